//! Role-scoped publishes, the mixed-role broadcast rule (for one room and
//! for one event sent to several), and the server bus, on the in-memory engine.

use std::time::Duration;

use chinwag_protocol::event::notification::NotificationRead;
use chinwag_protocol::model::UserRole;
use chinwag_protocol::{Event, Id};
use chinwag_realtime::engine::HistoryConfig;
use chinwag_realtime::{Hub, HubError, NodeId, Outbox, OutboxConfig, Outgoing, RoomId};

fn hub() -> Hub {
    Hub::memory(
        NodeId::generate(None),
        OutboxConfig::default(),
        HistoryConfig::default(),
    )
}

fn events(outbox: &mut Outbox) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(item) = outbox.try_recv() {
        if let Outgoing::Event(frame) = item {
            out.push(frame.event().clone());
        }
    }
    out
}

fn notice() -> Event {
    Event::NotificationRead(NotificationRead {
        notification_ids: vec![Id(1)],
    })
}

#[tokio::test]
async fn role_scoped_publish_reaches_only_that_role() {
    let hub = hub();
    let room = RoomId::topic("ops").unwrap();
    let (user, mut user_out) = hub.register(Id(1), UserRole::User);
    let (bot, mut bot_out) = hub.register(Id(2), UserRole::Bot);
    hub.join(&user, &room).await.unwrap();
    hub.join(&bot, &room).await.unwrap();

    // A users-only event cannot be broadcast to a room that can mix roles…
    let err = hub.broadcast(&room, notice()).await.unwrap_err();
    assert!(matches!(err, HubError::NotShared(..)));
    // …but can be published to the users in it.
    hub.publish_for_role(&room, UserRole::User, notice())
        .await
        .unwrap();
    assert_eq!(events(&mut user_out), vec![notice()]);
    assert!(events(&mut bot_out).is_empty());
}

#[tokio::test]
async fn server_bus_subscribers_get_topic_messages() {
    let hub = hub();
    let mut rx = hub.bus_subscribe("jobs").await.unwrap();
    hub.bus_publish("jobs", Some(Id(3)), serde_json::json!({"task": 1}))
        .await
        .unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let Event::TopicMessage(message) = frame.event() else {
        panic!("not a topic message")
    };
    assert_eq!(message.data["task"], 1);
    assert_eq!(message.origin_node, hub.node().name());
    assert_eq!(frame.offset(), Some(1));
}

#[tokio::test]
async fn one_event_to_several_rooms_goes_to_all_or_none() {
    let hub = hub();
    let rooms = [RoomId::user(Id(1)), RoomId::topic("ops").unwrap()];
    let (conn, mut out) = hub.register(Id(1), UserRole::User);
    for room in &rooms {
        hub.join(&conn, room).await.unwrap();
    }

    // A users-only event may go to `user:` but not to a mixed room: the
    // whole run is refused, and nothing is published.
    let refused = hub.broadcast_each(&rooms, notice()).await;
    assert_eq!(refused.len(), 2);
    assert!(
        refused
            .iter()
            .all(|r| matches!(r, Err(HubError::NotShared(..))))
    );
    assert!(events(&mut out).is_empty());

    let message = shared_note();
    let sent = hub.broadcast_each(&rooms, message.clone()).await;
    let offsets: Vec<_> = sent
        .into_iter()
        .map(|r| r.unwrap().map(|pos| pos.offset))
        .collect();
    assert_eq!(offsets, vec![Some(1), Some(1)]);
    assert_eq!(events(&mut out), vec![message.clone(), message]);
}

/// A shared event.
fn shared_note() -> Event {
    Event::TopicMessage(chinwag_protocol::event::topic::TopicMessage {
        topic: "ops".into(),
        from: None,
        origin_node: "test".into(),
        data: serde_json::json!({"n": 1}),
    })
}
