//! What the presence tests read from an outbox.

use chinwag_protocol::Event;
use chinwag_realtime::{Outbox, Outgoing};

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
