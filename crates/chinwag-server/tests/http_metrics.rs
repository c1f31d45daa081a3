//! `GET /metrics`: the node's sessions, closes by code, fan-out counts,
//! HTTP responses by class and process figures, in the Prometheus text
//! format; `metrics = false` turns the route off.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use support::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The status line and body of `GET path`.
async fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// The samples of an exposition, by name with labels; checks that every
/// sample belongs to a family announced by `# HELP` and `# TYPE` before it.
fn samples(text: &str) -> HashMap<String, f64> {
    let mut typed = Vec::new();
    let mut out = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            typed.push(name.to_owned());
        } else if line.starts_with("# HELP ") {
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let name = series.split('{').next().unwrap();
            assert!(typed.iter().any(|t| t == name), "{name} has no # TYPE");
            out.insert(series.to_owned(), value.parse().unwrap());
        }
    }
    out
}

async fn scrape(server: &TestServer) -> HashMap<String, f64> {
    let (status, body) = get(server.addr, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    samples(&body)
}

#[tokio::test]
async fn metrics_count_sessions_closes_deliveries_and_responses() {
    let server = TestServer::start().await;
    let mut alice = server.client(1).await;
    let mut bob = server.client(2).await;
    alice.subscribe("public.lobby").await;
    bob.subscribe("public.lobby").await;
    let before = scrape(&server).await;
    alice
        .send(json!({"op":"publish","topic":"public.lobby","data":{"n":1}}))
        .await;
    bob.recv_in("topic:public.lobby").await;
    alice.recv_in("topic:public.lobby").await;
    let after = scrape(&server).await;
    let delta = |name: &str| after[name] - before[name];
    assert_eq!(delta("chinwag_frames_fanned_out_total"), 1.0);
    assert_eq!(delta("chinwag_deliveries_total"), 2.0);

    // A third client sends only garbage and is closed with 4002.
    let mut carol = server.client(3).await;
    for _ in 0..10 {
        carol.send(json!({"op": "no such op"})).await;
    }
    assert_eq!(carol.closed().await, 4002);
    assert_eq!(
        get(server.addr, "/nowhere").await.0,
        "HTTP/1.1 404 Not Found"
    );

    // The session ends just after its close frame.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let now = loop {
        let now = scrape(&server).await;
        if now["chinwag_ws_sessions"] == 2.0 || tokio::time::Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(now["chinwag_ws_sessions"], 2.0);
    assert_eq!(now["chinwag_ws_connections"], 2.0);
    assert_eq!(now["chinwag_ws_sessions_opened_total"], 3.0);
    assert_eq!(now["chinwag_ws_closes_total{code=\"4002\"}"], 1.0);
    assert_eq!(now["chinwag_rooms"], before["chinwag_rooms"]);
    assert_eq!(
        now["chinwag_http_responses_total{class=\"1xx\"}"], 3.0,
        "the upgrades"
    );
    assert!(
        now["chinwag_http_responses_total{class=\"2xx\"}"] >= 1.0,
        "the scrapes"
    );
    assert_eq!(now["chinwag_http_responses_total{class=\"4xx\"}"], 1.0);
    assert_eq!(
        now["chinwag_presence_offline_checks_pending"], 1.0,
        "carol's, waiting out the grace"
    );
    assert!(now["process_resident_memory_bytes"] > 0.0);
    assert!(now["process_open_fds"] > 0.0);
    assert!(now.contains_key("process_cpu_seconds_total"));
    assert!(
        now.keys()
            .any(|k| k.starts_with("chinwag_node_info{node=\"")),
        "{now:?}"
    );
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let server = TestServer::start_with(|c| c.metrics = false).await;
    let (status, body) = get(server.addr, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(body.contains("NOT_FOUND"), "{body}");
}
