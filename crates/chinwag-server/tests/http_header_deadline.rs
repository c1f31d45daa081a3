//! A socket that never finishes its request headers is closed after
//! `header_read_timeout_ms`, so idle or half-sent connections cannot pile
//! up outside the gateway's connection cap; a WebSocket, once upgraded,
//! outlives that deadline. A body that never finishes is refused after
//! `body_read_timeout_ms` and its connection closed.

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use support::{TestServer, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DEADLINE_MS: u64 = 300;

#[tokio::test]
async fn silent_and_half_sent_requests_are_closed_and_websockets_stay() {
    let server = TestServer::start_with(|c| c.header_read_timeout_ms = DEADLINE_MS).await;
    let mut ws = server.client(1).await;
    for opening in [&b""[..], b"GET /healthz HTTP/1.1\r\nHost: x\r\n"] {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(opening).await.unwrap();
        let mut sink = Vec::new();
        // Either an orderly end of stream or a reset ends the read.
        let ended = tokio::time::timeout(WAIT, tcp.read_to_end(&mut sink)).await;
        assert!(ended.is_ok(), "still open after {WAIT:?}: {opening:?}");
    }
    // The WebSocket was opened before and is past the deadline now.
    tokio::time::sleep(Duration::from_millis(2 * DEADLINE_MS)).await;
    ws.roundtrip().await;
}

#[tokio::test]
async fn a_body_that_never_finishes_is_refused_and_its_connection_closed() {
    let server = TestServer::start_with(|c| c.body_read_timeout_ms = DEADLINE_MS).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(
        b"POST /api/v1/auth/logout HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"refresh",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let ended = tokio::time::timeout(WAIT, tcp.read_to_end(&mut answer)).await;
    assert!(ended.is_ok(), "still open after {WAIT:?}");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("did not arrive within"), "{answer}");
}
