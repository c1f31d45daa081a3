//! The offline grace period runs from the user's last disconnect: the check
//! an earlier disconnect scheduled, falling due while the user is connected
//! again or only just gone, sends nothing; the last one sends exactly one
//! `USER_OFFLINE` and runs the offline hook once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chinwag_protocol::model::UserRole;
use chinwag_protocol::{Event, Id};
use chinwag_realtime::engine::HistoryConfig;
use chinwag_realtime::{Hub, NodeId, Outbox, OutboxConfig, Outgoing, PresenceTracker, RoomId};

const USER: Id = Id(42);
const GRACE: Duration = Duration::from_secs(5);

/// The `USER_OFFLINE` events waiting in `outbox`.
fn offlines(outbox: &mut Outbox) -> usize {
    let mut count = 0;
    while let Some(item) = outbox.try_recv() {
        if let Outgoing::Event(frame) = item
            && matches!(frame.event(), Event::UserOffline(_))
        {
            count += 1;
        }
    }
    count
}

#[tokio::test(start_paused = true)]
async fn only_the_last_disconnect_starts_the_grace_period() {
    let room = RoomId::community(Id(1));
    let hub = Hub::memory(
        NodeId::generate(Some("grace")),
        OutboxConfig::default(),
        HistoryConfig::default(),
    );
    let hooked = Arc::new(AtomicUsize::new(0));
    let counter = hooked.clone();
    let tracker = PresenceTracker::new(
        hub.clone(),
        GRACE,
        Arc::new(move |_| {
            let room = room.clone();
            Box::pin(async move { vec![room] })
        }),
        Some(Arc::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {})
        })),
    );
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
