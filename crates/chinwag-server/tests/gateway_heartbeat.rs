//! Heartbeats: a silent connection is reaped with 4009, a pinging one is
//! kept; health and readiness endpoints (not ready, and UNAVAILABLE, while
//! the database is gone).

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use chinwag_protocol::CloseCode;
use serde_json::json;
use support::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn silent_connections_are_reaped_and_pinging_ones_kept() {
    let server = TestServer::start_with(|c| c.gateway.heartbeat_timeout_ms = 400).await;
    let mut silent = server.client(1).await;
    let mut alive = server.client(2).await;
    let pinger = tokio::spawn(async move {
        for _ in 0..8 {
            alive.send(json!({"op":"ping"})).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        alive.roundtrip().await;
        alive
    });
    assert_eq!(silent.closed().await, CloseCode::HeartbeatTimeout.code());
    let _alive = pinger.await.unwrap();
}

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn health_and_readiness_report_the_node() {
    let server = TestServer::start_with(|c| {
        c.node_name = Some("edge-7".into());
        c.gateway.max_connections = 500;
    })
    .await;
    let health = get(server.addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("edge-7"));
    let ready = get(server.addr, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.contains("\"engine\":\"memory\""), "{ready}");
    assert!(ready.contains("\"max_connections\":500"), "{ready}");
}

#[tokio::test]
async fn without_its_database_a_node_is_not_ready_and_answers_unavailable() {
    let server = TestServer::start().await;
    let ready = get(server.addr, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.contains("\"database_ok\":true"), "{ready}");
    assert!(ready.contains("\"engine_ok\":true"), "{ready}");
    // The database goes away (its pools closed: every query now fails).
    server.state.chat.store().close().await;
    let ready = get(server.addr, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    assert!(ready.contains("\"database_ok\":false"), "{ready}");
    let token = server.token(1);
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET /api/v1/communities HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.contains("\"UNAVAILABLE\""), "{reply}");
}
