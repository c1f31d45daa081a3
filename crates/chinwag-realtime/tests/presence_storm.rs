//! A presence storm: one user's connections open and close 1,000 times
//! concurrently while the registry answers after random delays. Every
//! observer must end with the true presence, and must never receive a
//! version lower than one it has already seen.

use std::sync::Arc;
use std::time::Duration;

use chinwag_protocol::model::{PresenceStatus, UserRole};
use chinwag_protocol::{Event, Id};
use chinwag_realtime::engine::{HistoryConfig, MemoryEngine};
use chinwag_realtime::{Hub, NodeId, Outbox, OutboxConfig, Outgoing, PresenceTracker, RoomId};

const USER: Id = Id(42);
const STORM: usize = 1000;

fn room() -> RoomId {
    RoomId::community(Id(1))
}

/// Applies presence events the way a client must: only newer versions.
/// Returns the final (status, version) and whether any event arrived with
/// a version at or below one already seen.
fn observe(outbox: &mut Outbox) -> (Option<(PresenceStatus, i64)>, usize, bool) {
    let mut state: Option<(PresenceStatus, i64)> = None;
    let mut seen = 0;
    let mut regressed = false;
    while let Some(item) = outbox.try_recv() {
        let Outgoing::Event(frame) = item else {
            continue;
        };
        let presence = match frame.event() {
            Event::UserOnline(p) | Event::UserOffline(p) => &p.presence,
            _ => continue,
        };
        assert_eq!(presence.user_id, USER);
        seen += 1;
        if let Some((_, version)) = state
            && presence.version <= version
        {
            regressed = true;
            continue;
        }
        state = Some((presence.status, presence.version));
    }
    (state, seen, regressed)
}

async fn storm(survivors: usize) -> (PresenceStatus, (Option<(PresenceStatus, i64)>, usize, bool)) {
    let hub = Hub::memory_with(
        NodeId::generate(Some("storm")),
        OutboxConfig {
            capacity: 100_000,
            ephemeral_headroom: 0,
        },
        |local, control| {
            MemoryEngine::new(local, control, HistoryConfig::default())
                .with_presence_delay(Duration::from_millis(1))
        },
    );
    let tracker = PresenceTracker::new(
        hub.clone(),
        Duration::from_millis(20),
        Arc::new(|_| Box::pin(async { vec![room()] })),
        None,
    );
    let (observer, mut outbox) = hub.register(Id(7), UserRole::User);
    hub.join(&observer, &room()).await.unwrap();

    let mut tasks = Vec::new();
    for i in 0..STORM {
        let (hub, tracker) = (hub.clone(), tracker.clone());
        tasks.push(tokio::spawn(async move {
            let (conn, _outbox) = hub.register(USER, UserRole::User);
            tokio::time::sleep(Duration::from_micros(rand_below(2000))).await;
            tracker
                .connected(USER, conn.id(), None, None)
                .await
                .unwrap();
            if i >= survivors {
                tokio::time::sleep(Duration::from_micros(rand_below(3000))).await;
                hub.unregister(&conn).await;
                tracker.disconnected(USER, conn.id()).await.unwrap();
            } else {
                // Survivors stay connected to the end of the test.
                std::mem::forget(conn);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // Let every grace timer fire and settle.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let truth = if survivors > 0 {
        PresenceStatus::Online
    } else {
        PresenceStatus::Offline
    };
    assert_eq!(tracker.current(USER).await.unwrap().status, truth);
    (truth, observe(&mut outbox))
}

fn rand_below(n: u64) -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u64(n);
    h.finish() % n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_ending_offline_converges_to_offline() {
    let (truth, (state, seen, regressed)) = storm(0).await;
    assert!(seen > 0);
    assert!(
        !regressed,
        "an observer received an older version after a newer one"
    );
    assert_eq!(state.map(|s| s.0), Some(truth));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_with_survivors_converges_to_online() {
    let (truth, (state, seen, regressed)) = storm(3).await;
    assert!(seen > 0);
    assert!(
        !regressed,
        "an observer received an older version after a newer one"
    );
    assert_eq!(state.map(|s| s.0), Some(truth));
}
