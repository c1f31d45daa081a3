//! Register, login and refresh are limited per client address: over the
//! burst the answer is 429 RATE_LIMITED, other addresses are unaffected,
//! and behind a trusted proxy the forwarded address counts. Authenticated
//! writes, REST and the WebSocket `send_message` alike, are limited per user.

#[path = "chat_support.rs"]
mod chat_support;

use std::net::IpAddr;

use chat_support::support::TestServer;
use chat_support::{Api, raw_with};
use serde_json::json;

/// A wrong-password login from `source` with extra headers; the status
/// and error code.
async fn login(server: &TestServer, source: [u8; 4], headers: &str) -> (u16, String) {
    let reply = login_reply(server, source, headers).await;
    (reply.status, reply.code().to_string())
}

/// The whole reply to [`login`].
async fn login_reply(server: &TestServer, source: [u8; 4], headers: &str) -> chat_support::Reply {
    let body = json!({"username": "nobody", "password": "wrong password"}).to_string();
    raw_with(
        server.addr,
        Some(IpAddr::from(source)),
        headers,
        "POST",
        "/api/v1/auth/login",
        None,
        Some("application/json"),
        body.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn credential_attempts_are_limited_per_address() {
    let server = TestServer::start_with(|c| {
        c.auth.attempts_per_minute = 1;
        c.auth.attempts_burst = 3;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(login(&server, [127, 0, 0, 1], "").await.0, 401);
    }
    let over = login_reply(&server, [127, 0, 0, 1], "").await;
    assert_eq!((over.status, over.code()), (429, "RATE_LIMITED"));
    // One attempt a minute: the next token is a minute away.
    assert_eq!(over.header("retry-after"), Some("60"), "{:?}", over.headers);
    // Another address has its own bucket.
    assert_eq!(login(&server, [127, 0, 0, 2], "").await.0, 401);
    // Without trust, a forwarded address does not buy a new bucket.
    let forged = "X-Forwarded-For: 198.51.100.7\r\n";
    assert_eq!(login(&server, [127, 0, 0, 1], forged).await.0, 429);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    let server = TestServer::start_with(|c| {
        c.auth.attempts_per_minute = 1;
        c.auth.attempts_burst = 1;
        c.auth.trust_forwarded_for = true;
    })
    .await;
    let alice = "X-Forwarded-For: 198.51.100.7\r\n";
    let bob = "X-Forwarded-For: 6.6.6.6, 198.51.100.8\r\n";
    assert_eq!(login(&server, [127, 0, 0, 1], alice).await.0, 401);
    assert_eq!(login(&server, [127, 0, 0, 1], alice).await.0, 429);
    assert_eq!(login(&server, [127, 0, 0, 1], bob).await.0, 401);
}

#[tokio::test]
async fn writes_are_limited_per_user_and_reads_are_not() {
    let server = TestServer::start_with(|c| {
        c.auth.writes_per_minute = 1;
        c.auth.writes_burst = 3;
    })
    .await;
    let api = Api { addr: server.addr };
    let (_, alice) = api.register("alice").await;
    let (_, bob) = api.register("bob").await;
    for i in 0..3 {
        let name = format!("club {i}");
        api.ok(
            201,
            "POST",
            "/communities",
            &alice,
            Some(json!({"name": name})),
        )
        .await;
    }
    let over = api
        .call(
            "POST",
            "/communities",
            Some(&alice),
            Some(json!({"name": "one more"})),
        )
        .await;
    assert_eq!((over.status, over.code()), (429, "RATE_LIMITED"));
    assert!(over.header("retry-after").is_some(), "{:?}", over.headers);
    // Reads are not counted, and nothing over the limit was created.
    let mine = api.ok(200, "GET", "/communities", &alice, None).await;
    assert_eq!(mine.as_array().map(Vec::len), Some(3), "{mine}");
    // Bob has his own bucket.
    api.ok(
        201,
        "POST",
        "/communities",
        &bob,
        Some(json!({"name": "bob's"})),
    )
    .await;
}

#[tokio::test]
async fn send_message_over_the_websocket_shares_the_write_limit() {
    let server = TestServer::start_with(|c| {
        c.auth.writes_per_minute = 1;
        c.auth.writes_burst = 4;
    })
    .await;
    let api = Api { addr: server.addr };
    let g = api.guild().await;
    // Joining took one of Bob's four writes; three messages take the rest.
    let mut bob = server.client(g.bob.0).await;
    for n in 0..4 {
        bob.send(
            json!({"op": "send_message", "channel_id": g.general.to_string(),
                        "content": format!("hi {n}"), "nonce": format!("n{n}")}),
        )
        .await;
    }
    let mut answers = Vec::new();
    while answers.len() < 4 {
        let frame = bob.recv().await;
        if ["ack", "error"].contains(&frame["op"].as_str().unwrap_or("")) {
            answers.push(frame);
        }
    }
    let ops: Vec<_> = answers
        .iter()
        .map(|f| (f["op"].clone(), f["nonce"].clone()))
        .collect();
    assert_eq!(
        ops,
        [("ack", "n0"), ("ack", "n1"), ("ack", "n2"), ("error", "n3")]
            .map(|(op, nonce)| (json!(op), json!(nonce))),
        "{answers:?}"
    );
    assert_eq!(answers[3]["code"], "RATE_LIMITED", "{}", answers[3]);
    // The connection stays open, and REST writes draw on the same bucket.
    bob.roundtrip().await;
    let over = api
        .call(
            "POST",
            &format!("/channels/{}/messages", g.general),
            Some(&g.bob.1),
            Some(json!({"content": "over REST"})),
        )
        .await;
    assert_eq!((over.status, over.code()), (429, "RATE_LIMITED"));
    let history = api.history(&g.alice.1, g.general, "").await;
    assert_eq!(history.len(), 3, "{history:?}");
}

#[tokio::test]
async fn set_status_shares_the_write_limit() {
    let server = TestServer::start_with(|c| {
        c.auth.writes_per_minute = 1;
        c.auth.writes_burst = 2;
    })
    .await;
    let mut ws = server.client(7).await;
    for status in ["idle", "dnd", "online"] {
        ws.send(json!({"op": "set_status", "status": status})).await;
    }
    let refused = ws.recv_op("error").await;
    assert_eq!(refused["code"], "RATE_LIMITED", "{refused}");
    // The connection stays open, and the status is the last one allowed.
    ws.roundtrip().await;
    let again = server.client(7).await;
    assert_eq!(again.ready["status"], "dnd");
}
