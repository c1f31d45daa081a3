//! Frame size, UTF-8, unknown JSON, flooding, topics and connections per
//! node and per user: each answered with its documented error or close,
//! while everyone else keeps being served.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::CloseCode;
use futures_util::SinkExt;
use serde_json::json;
use support::TestServer;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

#[tokio::test]
async fn a_frame_over_the_limit_closes_with_1009() {
    let server = TestServer::start_with(|c| c.gateway.max_frame_bytes = 1024).await;
    let mut bystander = server.client(2).await;
    let mut client = server.client(1).await;
    let big = "x".repeat(2000);
    client
        .send(json!({"op":"publish","topic":"public.x","data":big}))
        .await;
    assert_eq!(client.closed().await, CloseCode::FrameTooLarge.code());
    bystander.roundtrip().await;
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    let server = TestServer::start().await;
    let mut bystander = server.client(2).await;
    let mut client = server.client(1).await;
    let frame = Frame::message(vec![0xff, 0xfe, 0xfd], OpCode::Data(Data::Text), true);
    client.ws.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(client.closed().await, CloseCode::InvalidUtf8.code());
    bystander.roundtrip().await;
}

#[tokio::test]
async fn unknown_and_malformed_json_get_errors_and_the_connection_lives() {
    let server = TestServer::start().await;
    let mut client = server.client(1).await;
    client.send(json!({"op":"dance"})).await;
    assert_eq!(client.recv_op("error").await["code"], "UNKNOWN_OP");
    client.send(json!({"hello":"world"})).await;
    assert_eq!(client.recv_op("error").await["code"], "INVALID_FRAME");
    client.send(json!({"op":"typing"})).await;
    assert_eq!(client.recv_op("error").await["code"], "INVALID_FRAME");
    client.ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(client.recv_op("error").await["code"], "INVALID_FRAME");
    client.roundtrip().await;
}

#[tokio::test]
async fn too_many_invalid_frames_close_with_4002() {
    let server = TestServer::start_with(|c| c.gateway.max_invalid_frames = 3).await;
    let mut client = server.client(1).await;
    for _ in 0..3 {
        client.ws.send(Message::text("nope")).await.unwrap();
    }
    assert_eq!(client.closed().await, CloseCode::InvalidFrames.code());
}

#[tokio::test]
async fn flooding_closes_with_4008_and_others_are_unaffected() {
    let server = TestServer::start_with(|c| {
        c.gateway.rate_per_sec = 1;
        c.gateway.rate_burst = 10;
    })
    .await;
    let mut bystander = server.client(2).await;
    let mut flooder = server.client(1).await;
    for _ in 0..50 {
        if flooder
            .ws
            .send(Message::text(json!({"op":"ping"}).to_string()))
            .await
            .is_err()
        {
            break;
        }
    }
    let error = flooder.recv_op("error").await;
    assert_eq!(error["code"], "RATE_LIMITED");
    assert_eq!(flooder.closed().await, CloseCode::RateLimited.code());
    bystander.roundtrip().await;
}

/// More clients than tokio's default accept queue (128) connect before the
/// node accepts any, as when every client of a restarted node comes back
/// at once: with the configured queue, every handshake completes at once.
/// With a short one, the kernel drops the extra SYNs and those connects
/// never finish while nothing accepts (the deadline only bounds a failure).
#[tokio::test]
async fn a_reconnect_storm_fits_in_the_accept_queue() {
    let dir = support::TempDir::new();
    let config = support::test_config(&dir);
    assert_eq!(config.listen_backlog, 4096);
    let state = chinwag_server::AppState::open(config.clone())
        .await
        .unwrap();
    let server = chinwag_server::Server::bind(config.listen, state)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let connects = (0..500).map(|_| tokio::net::TcpStream::connect(addr));
    let all = futures_util::future::try_join_all(connects);
    let streams = tokio::time::timeout(std::time::Duration::from_secs(10), all)
        .await
        .expect("every connect completes without an accept")
        .unwrap();
    assert_eq!(streams.len(), 500);
}

/// Connects with user 3's token; `Err(status)` when the upgrade is refused.
async fn try_connect(server: &TestServer) -> Result<(), u16> {
    let url = server.url(&format!("?token={}", server.token(3)));
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default());
            assert!(body.contains("UNAVAILABLE"), "{body}");
            Err(response.status().as_u16())
        }
        Err(other) => panic!("connect: {other}"),
    }
}

#[tokio::test]
async fn a_full_node_refuses_upgrades_with_503_until_a_slot_frees() {
    let server = TestServer::start_with(|c| c.gateway.max_connections = 2).await;
    let mut first = server.client(1).await;
    let mut second = server.client(2).await;
    assert_eq!(try_connect(&server).await, Err(503));
    first.roundtrip().await;
    second.roundtrip().await;

    first.ws.close(None).await.unwrap();
    // The slot comes back once the first session has ended.
    let reconnected = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while try_connect(&server).await.is_err() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(reconnected.is_ok(), "no slot came back");
    second.roundtrip().await;
}

#[tokio::test]
async fn a_connection_holds_at_most_max_topics() {
    let server = TestServer::start_with(|c| c.gateway.max_topics = 2).await;
    let mut client = server.client(1).await;
    let first = client.subscribe("public.one").await;
    client.subscribe("public.two").await;
    // Again the same topic is no new one.
    client.subscribe("public.two").await;
    client
        .send(json!({"op":"subscribe","topic":"public.three","nonce":"s3"}))
        .await;
    let refused = client.recv_op("error").await;
    assert_eq!(
        (&refused["code"], &refused["nonce"]),
        (&json!("BAD_REQUEST"), &json!("s3")),
        "{refused}"
    );
    client
        .send(json!({"op":"unsubscribe","topic":"public.two","nonce":"u"}))
        .await;
    client.recv_op("room_left").await;
    client.subscribe("public.three").await;

    // A resume re-subscribes only up to the limit.
    let epoch = first["data"]["epoch"].as_str().unwrap();
    let mut again = server.client(1).await;
    again
        .send(json!({"op":"resume","rooms":{
            "topic:public.one":{"epoch":epoch,"offset":0},
            "topic:public.two":{"epoch":epoch,"offset":0},
            "topic:public.three":{"epoch":epoch,"offset":0}}}))
        .await;
    let resumed = again.recv_op("resumed").await;
    assert_eq!(resumed["denied"].as_array().unwrap().len(), 1, "{resumed}");
}

/// Connects as `user` and reads `hello`, then returns the next frame:
/// `ready`, or the refusal.
async fn connect_as(server: &TestServer, user: i64) -> (support::Client, serde_json::Value) {
    let url = server.url(&format!("?token={}", server.token(user)));
    let mut client = support::Client::connect(&url).await;
    assert_eq!(client.recv().await["op"], "hello");
    let next = client.recv().await;
    (client, next)
}

#[tokio::test]
async fn a_user_holds_at_most_max_connections_per_user() {
    let server = TestServer::start_with(|c| c.gateway.max_connections_per_user = 2).await;
    let _first = server.client(1).await;
    let mut second = server.client(1).await;
    let (mut third, refused) = connect_as(&server, 1).await;
    assert_eq!(
        (&refused["op"], &refused["code"]),
        (&json!("error"), &json!("RATE_LIMITED")),
        "{refused}"
    );
    assert_eq!(third.closed().await, CloseCode::RateLimited.code());
    // Other users are not affected.
    let mut other = server.client(2).await;
    other.roundtrip().await;

    // Once a connection ends, its place is free again.
    second.ws.close(None).await.unwrap();
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let (_client, next) = connect_as(&server, 1).await;
        if next["op"] == "ready" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no place freed: {next}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
