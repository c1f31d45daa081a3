//! Role-scoped publishes, the mixed-role broadcast rule, and the server
//! bus, on the in-memory engine.

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
