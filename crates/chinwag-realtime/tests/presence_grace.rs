//! The offline grace period runs from the user's last disconnect: the check
//! an earlier disconnect scheduled, falling due while the user is connected
//! again or only just gone, sends nothing; the last one sends exactly one
//! `USER_OFFLINE` and runs the offline hook once. The memory engine then
//! forgets the user, unless they chose a status.

#[path = "support/presence.rs"]
mod presence;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chinwag_protocol::model::{PresenceStatus, UserRole};
use chinwag_protocol::{Event, Id};
use chinwag_realtime::engine::{AnyEngine, HistoryConfig};
use chinwag_realtime::{Hub, NodeId, Outbox, OutboxConfig, Outgoing, PresenceTracker, RoomId};
use presence::offlines;

const USER: Id = Id(42);
const GRACE: Duration = Duration::from_secs(5);

#[tokio::test(start_paused = true)]
async fn only_the_last_disconnect_starts_the_grace_period() {
    let room = RoomId::community(Id(1));
    let hub = Hub::memory(
        NodeId::generate(Some("grace")),
        OutboxConfig::default(),
        HistoryConfig::default(),
    );
    let hooked = Arc::new(AtomicUsize::new(0));
    let tracker = presence::tracker(&hub, GRACE, &room, &hooked);
    let (observer, mut outbox) = hub.register(Id(7), UserRole::User);
    hub.join(&observer, &RoomId::community(Id(1)))
        .await
        .unwrap();
    let start = tokio::time::Instant::now();
    let until = |secs: f64| tokio::time::sleep_until(start + Duration::from_secs_f64(secs));

    // Gone at 0, back at 1, gone again at 3.5: every gap is shorter than
    // the grace period until the last one.
    let (first, _first_outbox) = hub.register(USER, UserRole::User);
    tracker
        .connected(USER, first.id(), None, None)
        .await
        .unwrap();
    tracker.disconnected(USER, first.id()).await.unwrap();
    until(1.0).await;
    let (second, _second_outbox) = hub.register(USER, UserRole::User);
    tracker
        .connected(USER, second.id(), None, None)
        .await
        .unwrap();
    until(3.5).await;
    tracker.disconnected(USER, second.id()).await.unwrap();

    // The first disconnect's check falls due 1.5 s after the last close.
    until(5.5).await;
    assert_eq!(offlines(&mut outbox), 0, "offline before the grace period");
    assert_eq!(hooked.load(Ordering::SeqCst), 0);

    until(9.0).await;
    assert_eq!(
        offlines(&mut outbox),
        1,
        "one USER_OFFLINE, after the grace"
    );
    assert_eq!(hooked.load(Ordering::SeqCst), 1, "the hook ran once");
    assert_eq!(tracker.pending(), 0);
}

/// The users the memory engine's presence registry holds.
fn registered(hub: &Hub) -> usize {
    match hub.engine() {
        AnyEngine::Memory(engine) => engine.presence_count(),
        #[allow(unreachable_patterns)]
        _ => unreachable!("a memory hub"),
    }
}

/// The version of the next presence event in `outbox`, and whether it is
/// `USER_OFFLINE`.
async fn next_presence(outbox: &mut Outbox) -> (bool, i64) {
    loop {
        if let Outgoing::Event(frame) = outbox.recv().await.expect("outbox open") {
            match frame.event() {
                Event::UserOnline(p) => return (false, p.presence.version),
                Event::UserOffline(p) => return (true, p.presence.version),
                _ => {}
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_memory_registry_forgets_users_gone_offline() {
    let hub = Hub::memory(
        NodeId::generate(Some("forget")),
        OutboxConfig::default(),
        HistoryConfig::default(),
    );
    let tracker = PresenceTracker::new(
        hub.clone(),
        GRACE,
        Arc::new(|_| Box::pin(async { vec![] })),
        None,
    );
    let (observer, mut outbox) = hub.register(Id(7), UserRole::User);
    hub.join(&observer, &RoomId::user(USER)).await.unwrap();

    // Online, then offline after the grace: the entry goes.
    let (conn, _conn_outbox) = hub.register(USER, UserRole::User);
    tracker
        .connected(USER, conn.id(), None, None)
        .await
        .unwrap();
    let (offline, first) = next_presence(&mut outbox).await;
    assert!(!offline);
    tracker.disconnected(USER, conn.id()).await.unwrap();
    let (offline, gone) = next_presence(&mut outbox).await;
    assert!(offline && gone > first);
    assert_eq!(registered(&hub), 0, "the user is forgotten");
    let current = tracker.current(USER).await.unwrap();
    assert_eq!(current.status, PresenceStatus::Offline);
    assert!(current.version >= gone, "a read never goes back in version");

    // Made again, the user's versions keep rising.
    let (conn, _conn_outbox) = hub.register(USER, UserRole::User);
    tracker
        .connected(USER, conn.id(), Some(PresenceStatus::Dnd), None)
        .await
        .unwrap();
    let (offline, back) = next_presence(&mut outbox).await;
    assert!(!offline && back > gone, "{back} after {gone}");

    // A chosen status outlives the connection, so its entry stays.
    tracker.disconnected(USER, conn.id()).await.unwrap();
    let (offline, _) = next_presence(&mut outbox).await;
    assert!(offline);
    assert_eq!(registered(&hub), 1, "the dnd user is kept");
    let (conn, _conn_outbox) = hub.register(USER, UserRole::User);
    tracker
        .connected(USER, conn.id(), None, None)
        .await
        .unwrap();
    assert_eq!(
        tracker.current(USER).await.unwrap().status,
        PresenceStatus::Dnd
    );
}
