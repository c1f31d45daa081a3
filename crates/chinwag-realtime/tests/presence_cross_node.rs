//! The offline grace period runs from the user's last disconnect on any
//! node: a check scheduled on node A, falling due after the user came back
//! on node B and left there too, sends nothing; B's own check, one grace
//! period after the last disconnect, sends exactly one `USER_OFFLINE`.
//! Runs against each broker engine whose service this run has.

#![cfg(any(feature = "redis", feature = "nats"))]

#[path = "support/cluster.rs"]
mod support;

#[path = "support/presence.rs"]
mod presence;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chinwag_protocol::Id;
use chinwag_protocol::model::UserRole;
use chinwag_realtime::{HistoryConfig, RoomId};
use presence::{offlines, tracker};
use support::{Broker, WAIT};

broker_suite!(offline_waits_for_the_last_disconnect_on_any_node);

const USER: Id = Id(42);
const GRACE: Duration = Duration::from_millis(1000);

async fn offline_waits_for_the_last_disconnect_on_any_node(broker: Broker) {
    let hubs = broker.nodes(2, HistoryConfig::default()).await;
    let room = RoomId::community(Id(1));
    let hooked = Arc::new(AtomicUsize::new(0));
    let trackers = [
        tracker(&hubs[0], GRACE, &room, &hooked),
        tracker(&hubs[1], GRACE, &room, &hooked),
    ];
    let (observer, mut outbox) = hubs[0].register(Id(7), UserRole::User);
    hubs[0].join(&observer, &room).await.unwrap();
    let start = tokio::time::Instant::now();
    let until = |secs: f64| tokio::time::sleep_until(start + Duration::from_secs_f64(secs));

    // Gone from node 0 at 0, back on node 1 at 0.2, gone from there at 0.6.
    let (first, _first_outbox) = hubs[0].register(USER, UserRole::User);
    trackers[0]
        .connected(USER, first.id(), None, None)
        .await
        .unwrap();
    trackers[0].disconnected(USER, first.id()).await.unwrap();
    until(0.2).await;
    let (second, _second_outbox) = hubs[1].register(USER, UserRole::User);
    trackers[1]
        .connected(USER, second.id(), None, None)
        .await
        .unwrap();
    until(0.6).await;
    trackers[1].disconnected(USER, second.id()).await.unwrap();

    // Node 0's check fell due at 1.0, 0.4 s after the last disconnect.
    until(1.3).await;
    assert_eq!(offlines(&mut outbox), 0, "offline before the grace period");
    assert_eq!(hooked.load(Ordering::SeqCst), 0);

    // Node 1's check falls due at 1.6.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen = 0;
    while seen == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        seen += offlines(&mut outbox);
    }
    assert_eq!(seen, 1, "one USER_OFFLINE, after the grace");
    for tracker in &trackers {
        tracker.finish_pending().await;
    }
    assert_eq!(offlines(&mut outbox), 0, "no second USER_OFFLINE");
    assert_eq!(hooked.load(Ordering::SeqCst), 1, "the hook ran once");
}
