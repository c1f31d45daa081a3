//! What the presence tests share: a tracker that counts its offline hooks,
//! and the `USER_OFFLINE` events an outbox holds.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chinwag_protocol::Event;
use chinwag_realtime::{Hub, Outbox, Outgoing, PresenceTracker, RoomId};

/// A tracker on `hub` waiting `grace`, publishing to `room`, and counting
/// its offline hooks in `hooked`.
pub fn tracker(
    hub: &Hub,
    grace: Duration,
    room: &RoomId,
    hooked: &Arc<AtomicUsize>,
) -> Arc<PresenceTracker> {
    let (room, hooked) = (room.clone(), hooked.clone());
    PresenceTracker::new(
        hub.clone(),
        grace,
        Arc::new(move |_| {
            let room = room.clone();
            Box::pin(async move { vec![room] })
        }),
        Some(Arc::new(move |_| {
            hooked.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {})
        })),
    )
}

/// The `USER_OFFLINE` events waiting in `outbox` (others are dropped).
pub fn offlines(outbox: &mut Outbox) -> usize {
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
