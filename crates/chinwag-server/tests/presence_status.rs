//! Presence over real sockets: online on the first connection, idle and
//! dnd while connected, offline after the last one leaves and the grace
//! period passes; versions only grow.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::model::{PresenceStatus, UserRole};
use chinwag_protocol::{Event, Id};
use chinwag_realtime::{Outbox, Outgoing, RoomId};
use serde_json::json;
use support::TestServer;

async fn next_presence(outbox: &mut Outbox) -> (bool, PresenceStatus, i64) {
    loop {
        let item = tokio::time::timeout(support::WAIT, outbox.recv())
            .await
            .expect("presence in time")
            .expect("open");
        if let Outgoing::Event(frame) = item {
            match frame.event() {
                Event::UserOnline(p) => return (true, p.presence.status, p.presence.version),
                Event::UserOffline(p) => return (false, p.presence.status, p.presence.version),
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn online_idle_dnd_offline_in_version_order() {
    let server = TestServer::start().await;
    let hub = &server.state.hub;
    let (observer, mut outbox) = hub.register(Id(99), UserRole::User);
    hub.join(&observer, &RoomId::user(Id(5))).await.unwrap();

    let mut phone = server.client(5).await;
    let (online, status, v1) = next_presence(&mut outbox).await;
    assert!(online);
    assert_eq!(status, PresenceStatus::Online);
    assert_eq!(phone.ready["status"], "online");

    // A second device: no new USER_ONLINE, since the user already is.
    let mut laptop = server.client(5).await;
    laptop
        .send(json!({"op":"set_status","status":"idle"}))
        .await;
    let (_, status, v2) = next_presence(&mut outbox).await;
    assert_eq!(status, PresenceStatus::Idle);
    assert!(v2 > v1);
    // Repeating the status publishes nothing; dnd does.
    laptop
        .send(json!({"op":"set_status","status":"idle"}))
        .await;
    phone.send(json!({"op":"set_status","status":"dnd"})).await;
    let (_, status, v3) = next_presence(&mut outbox).await;
    assert_eq!(status, PresenceStatus::Dnd);
    assert!(v3 > v2);
    phone
        .send(json!({"op":"set_status","status":"offline","nonce":"x"}))
        .await;
    assert_eq!(phone.recv_op("error").await["code"], "BAD_REQUEST");

    // A reconnecting device learns the real status in `ready`.
    drop(laptop);
    let laptop = server.client(5).await;
    assert_eq!(laptop.ready["status"], "dnd");

    drop(phone);
    drop(laptop);
    let (online, status, v4) = next_presence(&mut outbox).await;
    assert!(!online);
    assert_eq!(status, PresenceStatus::Offline);
    assert!(v4 > v3);
}
