//! Three nodes in one process on a real Redis and a real NATS: broadcasts
//! reach everyone exactly once, `to_user` reaches every device on every
//! node, a kick on node A takes effect on node C at once, and presence is
//! right everywhere.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::model::UserRole;
use chinwag_protocol::{Event, Id};
use chinwag_realtime::{Outgoing, RoomId};
use chinwag_testkit::Backend;
use serde_json::json;
use support::note;

async fn broadcast_to_user_and_kick(backend: Backend) {
    let Some(nodes) = support::cluster(backend, 3).await else {
        return;
    };
    let mut clients = Vec::new();
    for (user, node) in [(1, 0), (2, 1), (3, 2)] {
        let mut client = nodes[node].client(user).await;
        client.subscribe("public.hall").await;
        clients.push(client);
    }
    for n in 0..20 {
        clients[0]
            .send(json!({"op":"publish","topic":"public.hall","data":{"n":n}}))
            .await;
    }
    for client in &mut clients {
        for n in 0..20u64 {
            let event = client.recv_in("topic:public.hall").await;
            assert_eq!(event["offset"], n + 1);
            assert_eq!(event["data"]["data"]["n"], n);
        }
    }

    // to_user from node 0 reaches the user's devices on nodes 1 and 2.
    let mut phone = nodes[1].client(4).await;
    let mut laptop = nodes[2].client(4).await;
    nodes[0].state.hub.to_user(Id(4), note(44)).await.unwrap();
    for device in [&mut phone, &mut laptop] {
        loop {
            let event = device.recv_in("user:4").await;
            if event["type"] == "TOPIC_MESSAGE" {
                assert_eq!(event["data"]["data"]["n"], 44);
                break;
            }
        }
    }

    // Membership changed on node 0 applies to user 3 on node 2 at once.
    let hub = &nodes[0].state.hub;
    let channel = RoomId::channel(Id(77));
    hub.join_user(Id(3), &channel).await.unwrap();
    let joined = clients[2].recv_op("room_joined").await;
    assert_eq!(joined["room"], "channel:77");
    hub.broadcast(&channel, note(1)).await.unwrap();
    assert_eq!(
        clients[2].recv_in("channel:77").await["data"]["data"]["n"],
        1
    );
    hub.leave_user(Id(3), &channel, "kicked").await.unwrap();
    let left = clients[2].recv_op("room_left").await;
    assert_eq!(left["reason"], "kicked");
    hub.broadcast(&channel, note(2)).await.unwrap();
    hub.to_user(Id(3), note(3)).await.unwrap();
    loop {
        let event = clients[2].recv_event().await;
        assert_ne!(event["room"], "channel:77", "event after the kick: {event}");
        if event["room"] == "user:3" && event["type"] == "TOPIC_MESSAGE" {
            assert_eq!(event["data"]["data"]["n"], 3);
            break;
        }
    }
}

async fn presence_across_nodes(backend: Backend) {
    let Some(nodes) = support::cluster(backend, 3).await else {
        return;
    };
    let hub = &nodes[0].state.hub;
    let (observer, mut outbox) = hub.register(Id(99), UserRole::User);
    hub.join(&observer, &RoomId::user(Id(5))).await.unwrap();

    let first = nodes[1].client(5).await;
    let second = nodes[2].client(5).await;
    drop(first);
    drop(second);
    let mut seen = Vec::new();
    while seen.last().is_none_or(|(online, _)| *online) {
        let item = tokio::time::timeout(support::WAIT, outbox.recv())
            .await
            .expect("presence in time")
            .unwrap();
        if let Outgoing::Event(frame) = item {
            match frame.event() {
                Event::UserOnline(p) => seen.push((true, p.presence.version)),
                Event::UserOffline(p) => seen.push((false, p.presence.version)),
                _ => {}
            }
        }
    }
    assert!(seen[0].0, "first event is online: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0].1 < w[1].1),
        "versions grow: {seen:?}"
    );
    let presence = nodes[2].state.presence.current(Id(5)).await.unwrap();
    assert_eq!(
        presence.status,
        chinwag_protocol::model::PresenceStatus::Offline
    );
}

#[tokio::test]
async fn redis_broadcast_to_user_and_kick() {
    broadcast_to_user_and_kick(Backend::Redis).await;
}

#[tokio::test]
async fn nats_broadcast_to_user_and_kick() {
    broadcast_to_user_and_kick(Backend::Nats).await;
}

#[tokio::test]
async fn redis_presence_across_nodes() {
    presence_across_nodes(Backend::Redis).await;
}

#[tokio::test]
async fn nats_presence_across_nodes() {
    presence_across_nodes(Backend::Nats).await;
}
