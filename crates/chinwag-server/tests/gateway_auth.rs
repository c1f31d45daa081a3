//! Authentication at connect: good, bad, expired, `alg: none` and
//! foreign-key tokens, and the identify deadline.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::CloseCode;
use futures_util::SinkExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use support::{Client, SECRET, TestServer};
use tokio_tungstenite::tungstenite::Message;

fn sign(secret: &str, exp: u64) -> String {
    let claims = json!({"sub": "1", "role": "user", "iat": 1, "exp": exp});
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn far_future() -> u64 {
    chinwag_server::auth::now_secs() + 3600
}

async fn refused(server: &TestServer, token: &str) -> (serde_json::Value, u16) {
    let mut client = Client::connect(&server.url("")).await;
    assert_eq!(client.recv().await["op"], "hello");
    client.send(json!({"op":"identify","token":token})).await;
    let error = client.recv().await;
    (error, client.closed().await)
}

#[tokio::test]
async fn identify_frame_with_a_good_token_gets_ready() {
    let server = TestServer::start().await;
    let mut client = Client::connect(&server.url("")).await;
    let hello = client.recv().await;
    assert_eq!(hello["op"], "hello");
    assert_eq!(hello["heartbeat_interval_ms"], 20000);
    client
        .send(json!({"op":"identify","token":sign(SECRET, far_future())}))
        .await;
    let ready = client.recv().await;
    assert_eq!(ready["op"], "ready");
    assert_eq!(ready["user_id"], "1");
    assert_eq!(ready["rooms"][0]["room"], "user:1");
}

#[tokio::test]
async fn bad_tokens_are_refused_with_documented_codes() {
    let server = TestServer::start().await;
    let (error, code) = refused(&server, "not-a-jwt").await;
    assert_eq!(error["code"], "UNAUTHORIZED");
    assert_eq!(code, CloseCode::AuthFailed.code());

    let (error, code) = refused(&server, &sign(SECRET, 10)).await;
    assert_eq!(error["code"], "TOKEN_EXPIRED");
    assert_eq!(code, CloseCode::TokenExpired.code());

    let (_, code) = refused(
        &server,
        &sign("some-other-secret-some-other-secret", far_future()),
    )
    .await;
    assert_eq!(code, CloseCode::AuthFailed.code());

    // alg: none, unsigned.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(json!({"sub":"1","role":"user","iat":1,"exp":far_future()}).to_string())
    );
    let (_, code) = refused(&server, &none).await;
    assert_eq!(code, CloseCode::AuthFailed.code());

    // A token in the URL is checked the same way.
    let mut client = Client::connect(&server.url("?token=garbage")).await;
    assert_eq!(client.recv().await["op"], "hello");
    assert_eq!(client.recv().await["code"], "UNAUTHORIZED");
    assert_eq!(client.closed().await, CloseCode::AuthFailed.code());
}

#[tokio::test]
async fn commands_before_identify_are_refused_and_the_deadline_closes() {
    let server = TestServer::start_with(|c| c.gateway.identify_timeout_ms = 300).await;
    let mut client = Client::connect(&server.url("")).await;
    assert_eq!(client.recv().await["op"], "hello");
    client
        .send(json!({"op":"subscribe","topic":"public.x","nonce":"n"}))
        .await;
    let error = client.recv().await;
    assert_eq!(error["code"], "NOT_IDENTIFIED");
    assert_eq!(client.closed().await, CloseCode::IdentifyTimeout.code());
}

#[tokio::test]
async fn other_clients_are_served_while_tokens_are_refused() {
    let server = TestServer::start().await;
    let mut good = server.client(9).await;
    for _ in 0..5 {
        refused(&server, "nope").await;
    }
    good.roundtrip().await;
}

#[tokio::test]
async fn a_token_expiring_mid_stream_closes_with_4004() {
    // A short heartbeat timeout makes the reaper look every 50 ms.
    let server = TestServer::start_with(|c| c.gateway.heartbeat_timeout_ms = 400).await;
    let mut client = Client::connect(&server.url("")).await;
    assert_eq!(client.recv().await["op"], "hello");
    let exp = chinwag_server::auth::now_secs() + 2;
    client
        .send(json!({"op":"identify","token":sign(SECRET, exp)}))
        .await;
    assert_eq!(
        client.recv_op("ready").await["token_expires_at"],
        exp * 1000
    );
    // Keep the heartbeat alive until the token runs out (the last ping may
    // meet a closed socket).
    let mut pongs = 0;
    let error = loop {
        let ping = Message::text(json!({"op":"ping"}).to_string());
        let _ = client.ws.send(ping).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let frame = client.recv().await;
        match frame["op"].as_str() {
            Some("pong") => pongs += 1,
            Some("error") => break frame,
            _ => {}
        }
    };
    assert!(pongs >= 1, "served before the expiry");
    assert_eq!(error["code"], "TOKEN_EXPIRED");
    assert_eq!(client.closed().await, CloseCode::TokenExpired.code());
}
