//! In-band token swap under load: no event lost or repeated in rooms kept,
//! a room the new token grants streams at once, a room it drops stops.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::Id;
use chinwag_realtime::RoomId;
use serde_json::json;
use support::{TestServer, note};

const EVENTS: u64 = 1000;

#[tokio::test]
async fn reauth_mid_stream_loses_nothing_and_grants_at_once() {
    let (server, policy) = TestServer::with_policy(|_| {}).await;
    let kept = RoomId::channel(Id(1));
    let dropped = RoomId::channel(Id(3));
    let granted = RoomId::channel(Id(2));
    policy.grant(9, kept.clone());
    policy.grant(9, dropped.clone());
    let mut client = server.client(9).await;

    let hub = server.state.hub.clone();
    let room = kept.clone();
    let publisher = tokio::spawn(async move {
        for n in 0..EVENTS {
            hub.broadcast(&room, note(n)).await.unwrap();
            if n % 16 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });

    let mut kept_ns = Vec::new();
    let mut reauthed = false;
    let mut granted_seen = false;
    while kept_ns.len() < EVENTS as usize || !granted_seen {
        if kept_ns.len() == 100 && !reauthed {
            policy.grant(9, granted.clone());
            policy.revoke(9, &dropped);
            client
                .send(json!({"op":"reauth","token":server.token(9)}))
                .await;
            reauthed = true;
        }
        let frame = client.recv().await;
        match frame["op"].as_str().unwrap() {
            "event" if frame["room"] == "channel:1" => {
                kept_ns.push(frame["data"]["data"]["n"].as_u64().unwrap());
            }
            "event" if frame["room"] == "channel:2" => {
                assert_eq!(frame["data"]["data"]["n"], 7777);
                granted_seen = true;
            }
            "event" if frame["room"] == "channel:3" => panic!("event in a dropped room: {frame}"),
            "reauthed" => {
                assert_eq!(frame["rooms_added"][0]["room"], "channel:2", "{frame}");
                assert_eq!(frame["rooms_removed"], json!(["channel:3"]));
                // Both take effect at once.
                server
                    .state
                    .hub
                    .broadcast(&granted, note(7777))
                    .await
                    .unwrap();
                server
                    .state
                    .hub
                    .broadcast(&dropped, note(8888))
                    .await
                    .unwrap();
            }
            "room_left" => assert_eq!(frame["room"], "channel:3"),
            _ => {}
        }
    }
    publisher.await.unwrap();
    assert_eq!(kept_ns, (0..EVENTS).collect::<Vec<_>>());
    client.roundtrip().await;
}

#[tokio::test]
async fn reauth_with_a_bad_or_foreign_token_changes_nothing() {
    let (server, policy) = TestServer::with_policy(|_| {}).await;
    policy.grant(9, RoomId::channel(Id(1)));
    let mut client = server.client(9).await;
    client.send(json!({"op":"reauth","token":"garbage"})).await;
    assert_eq!(client.recv_op("error").await["code"], "UNAUTHORIZED");
    client
        .send(json!({"op":"reauth","token":server.token(10)}))
        .await;
    assert_eq!(client.recv_op("error").await["code"], "FORBIDDEN");
    server
        .state
        .hub
        .broadcast(&RoomId::channel(Id(1)), note(1))
        .await
        .unwrap();
    assert_eq!(client.recv_in("channel:1").await["data"]["data"]["n"], 1);
}
