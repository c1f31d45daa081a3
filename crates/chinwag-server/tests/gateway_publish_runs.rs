//! Publishes that arrive together go to the engine as one run: each still
//! gets its own answer, in command order; the events keep the sender's
//! order with gap-free offsets; a refused publish or another command in
//! the middle changes nothing for the rest. On the memory engine, and
//! across two nodes on Redis and on NATS.

#[path = "support/mod.rs"]
mod support;

use chinwag_testkit::Backend;
use futures_util::SinkExt;
use serde_json::{Value, json};
use support::TestServer;
use tokio_tungstenite::tungstenite::Message;

const BURST: u64 = 40;

/// The frame sent at position `i` of the burst.
fn command(i: u64) -> Value {
    let nonce = format!("c{i}");
    match i {
        10 => json!({"op":"publish","topic":"private.burst","data":{"n":i},"nonce":nonce}),
        20 => json!({"op":"publish","topic":"bad topic","data":{"n":i},"nonce":nonce}),
        30 => json!({"op":"ping","nonce":nonce}),
        _ => json!({"op":"publish","topic":"public.burst","data":{"n":i},"nonce":nonce}),
    }
}

fn published(i: u64) -> bool {
    !matches!(i, 10 | 20 | 30)
}

/// Sends the burst in one write from a client of `from`; a subscriber on
/// `to` checks what arrives.
async fn burst_keeps_order(from: &TestServer, to: &TestServer) {
    let mut listener = to.client(2).await;
    listener.subscribe("public.burst").await;
    let mut sender = from.client(1).await;
    for i in 0..BURST {
        sender
            .ws
            .feed(Message::text(command(i).to_string()))
            .await
            .unwrap();
    }
    sender.ws.flush().await.unwrap();

    let mut offsets = Vec::new();
    for i in 0..BURST {
        let reply = loop {
            let frame = sender.recv().await;
            if frame["op"] != "event" {
                break frame;
            }
        };
        assert_eq!(
            reply["nonce"],
            format!("c{i}"),
            "answers in command order: {reply}"
        );
        match i {
            10 => assert_eq!(reply["code"], "FORBIDDEN", "{reply}"),
            20 => assert_eq!(reply["code"], "BAD_REQUEST", "{reply}"),
            30 => assert_eq!(reply["op"], "pong", "{reply}"),
            _ => {
                assert_eq!(reply["op"], "ack", "{reply}");
                offsets.push(reply["data"]["offset"].as_u64().unwrap());
            }
        }
    }
    let count = offsets.len() as u64;
    let first = offsets[0];
    assert_eq!(
        offsets,
        (first..first + count).collect::<Vec<_>>(),
        "gap-free offsets"
    );

    for i in (0..BURST).filter(|&i| published(i)) {
        let event = listener.recv_in("topic:public.burst").await;
        assert_eq!(event["data"]["data"]["n"], i, "the sender's order: {event}");
    }
    sender.roundtrip().await;
}

#[tokio::test]
async fn memory_a_burst_of_publishes_keeps_its_order() {
    let server = TestServer::start().await;
    burst_keeps_order(&server, &server).await;
}

async fn across_nodes(backend: Backend) {
    if let Some(nodes) = support::cluster(backend, 2).await {
        burst_keeps_order(&nodes[0], &nodes[1]).await;
    }
}

#[tokio::test]
async fn redis_a_burst_of_publishes_keeps_its_order() {
    across_nodes(Backend::Redis).await;
}

#[tokio::test]
async fn nats_a_burst_of_publishes_keeps_its_order() {
    across_nodes(Backend::Nats).await;
}
