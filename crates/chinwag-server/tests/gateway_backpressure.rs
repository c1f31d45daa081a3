//! A client that stops reading: its outbox fills, it gets `lagged` and is
//! closed with 4010, then resumes with nothing lost; a reader in the same
//! room receives every event meanwhile.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::CloseCode;
use serde_json::json;
use support::TestServer;
use tokio_tungstenite::tungstenite::Message;

const EVENTS: u64 = 1500;

/// Publishes `count` events of about `pad` bytes to `public.firehose`,
/// yielding between them so readers keep up.
async fn publish_firehose(server: &TestServer, count: u64, pad: usize) {
    let payload = "p".repeat(pad);
    for seq in 0..count {
        server
            .state
            .hub
            .bus_publish("public.firehose", None, json!({"seq": seq, "pad": payload}))
            .await
            .unwrap();
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn slow_reader_is_lagged_closed_and_resumes_completely() {
    let server = TestServer::start_with(|c| {
        c.gateway.outbox_capacity = 32;
        c.gateway.outbox_ephemeral_headroom = 8;
        c.history.max_len = 5000;
        // The slow client reads only after the fast one has everything; on
        // a loaded machine that can take longer than the default 2 s the
        // server gives a stuck close, which would end in a reset instead
        // of the 4010 under test.
        c.gateway.close_timeout_ms = 60_000;
    })
    .await;
    let mut fast = server.client(1).await;
    let mut slow = server.client(2).await;
    fast.subscribe("public.firehose").await;
    let ack = slow.subscribe("public.firehose").await;
    let epoch = ack["data"]["epoch"].as_str().unwrap().to_string();

    // The fast reader drains concurrently while the slow one reads nothing.
    let reader = tokio::spawn(async move {
        let mut offsets = Vec::new();
        while offsets.len() < EVENTS as usize {
            let event = fast.recv_in("topic:public.firehose").await;
            offsets.push(event["offset"].as_u64().unwrap());
        }
        offsets
    });
    publish_firehose(&server, EVENTS, 16 * 1024).await;
    let offsets = reader.await.unwrap();
    assert_eq!(
        offsets,
        (1..=EVENTS).collect::<Vec<_>>(),
        "fast reader lost or reordered events"
    );

    // Now the slow client reads: what was buffered, then `lagged`, then 4010.
    let mut last = 0;
    let mut lagged = None;
    let code = loop {
        let msg = tokio::time::timeout(support::WAIT, futures_util::StreamExt::next(&mut slow.ws))
            .await
            .expect("frame in time")
            .expect("open")
            .expect("ok");
        match msg {
            Message::Text(text) => {
                let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
                match frame["op"].as_str().unwrap() {
                    "event" if frame["room"] == "topic:public.firehose" => {
                        let offset = frame["offset"].as_u64().unwrap();
                        assert_eq!(offset, last + 1, "gap before the close");
                        last = offset;
                    }
                    "lagged" => lagged = Some(frame),
                    _ => {}
                }
            }
            Message::Close(Some(close)) => break u16::from(close.code),
            _ => {}
        }
    };
    assert_eq!(code, CloseCode::SlowConsumer.code());
    let lagged = lagged.expect("a lagged frame before the close");
    assert_eq!(lagged["rooms"][0]["room"], "topic:public.firehose");
    assert_eq!(lagged["rooms"][0]["offset"], last);
    assert!(last < EVENTS, "the slow client should have fallen behind");

    // Reconnect, re-subscribe, resume: everything after `last`, once, in order.
    let mut again = server.client(2).await;
    again.subscribe("public.firehose").await;
    again
        .send(
            json!({"op":"resume","rooms":{"topic:public.firehose":{"epoch":epoch,"offset":last}}}),
        )
        .await;
    let mut next = last + 1;
    loop {
        let frame = again.recv().await;
        match frame["op"].as_str().unwrap() {
            "event" if frame["room"] == "topic:public.firehose" => {
                assert_eq!(frame["offset"].as_u64().unwrap(), next);
                next += 1;
            }
            "resumed" => {
                assert_eq!(frame["replayed"]["topic:public.firehose"], EVENTS - last);
                assert_eq!(frame["resync"], json!([]));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(next, EVENTS + 1);
}

#[tokio::test]
async fn a_client_that_stops_reading_during_its_replay_is_let_go() {
    use chinwag_protocol::Id;
    use chinwag_protocol::model::PresenceStatus;

    const BIG: u64 = 800;
    let server = TestServer::start_with(|c| {
        c.gateway.heartbeat_interval_ms = 100;
        c.gateway.heartbeat_timeout_ms = 600;
        c.gateway.close_timeout_ms = 200;
        c.history.max_len = 5000;
    })
    .await;
    // About 52 MB of history: more than the kernel buffers on both sides
    // (loopback receive buffers grow to 32 MB here).
    publish_firehose(&server, BIG, 64 * 1024).await;
    let mut stuck = server.client(2).await;
    let ack = stuck.subscribe("public.firehose").await;
    let epoch = ack["data"]["epoch"].as_str().unwrap().to_string();
    // It asks for everything, then reads nothing: the replay's write stalls
    // and must fail after the heartbeat timeout, ending the session (and so
    // the user's presence), instead of holding it for good.
    stuck
        .send(json!({"op":"resume","rooms":{"topic:public.firehose":{"epoch":epoch,"offset":0}}}))
        .await;
    let gone = tokio::time::timeout(support::WAIT, async {
        loop {
            let presence = server.state.presence.current(Id(2)).await.unwrap();
            if presence.status == PresenceStatus::Offline {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the stuck session never ended");
    drop(stuck);
}
