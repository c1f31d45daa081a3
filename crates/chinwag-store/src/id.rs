//! Snowflake-style id generation.
//!
//! An id is `(ms since EPOCH) << 22 | node << 12 | sequence`: 41 bits of
//! milliseconds (about 69 years), 10 bits of node id and 12 bits of sequence.
//! Ids from one generator are strictly increasing, so message ids grow with
//! time and serve as pagination cursors. Ids from different nodes are
//! unique as long as each node has its own node id.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use chinwag_protocol::{Id, Timestamp};

/// The id epoch: 2024-01-01T00:00:00Z in unix milliseconds.
pub const EPOCH_MS: i64 = 1_704_067_200_000;

const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;
const MAX_SEQ: i64 = (1 << SEQ_BITS) - 1;

/// The largest node id (`2^10 - 1`).
pub const MAX_NODE_ID: u16 = (1 << NODE_BITS) - 1;

/// Generates unique, time-ordered ids for one process.
#[derive(Debug)]
pub struct IdGenerator {
    node: i64,
    /// The (ms since epoch, sequence) of the last id handed out.
    last: Mutex<(i64, i64)>,
}

impl IdGenerator {
    /// A generator for `node` (masked to its 10 bits).
    pub fn new(node: u16) -> Self {
        Self {
            node: i64::from(node & MAX_NODE_ID),
            last: Mutex::new((0, -1)),
        }
    }

    /// The node id the generator stamps into its ids.
    pub fn node(&self) -> u16 {
        self.node as u16
    }

    /// The next id. Never goes backwards, even if the clock does: within a
    /// millisecond the sequence counts up, and when it is used up the id
    /// borrows from the next millisecond.
    pub fn next_id(&self) -> Id {
        let now = now_ms() - EPOCH_MS;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let (ms, seq) = if now > last.0 {
            (now, 0)
        } else if last.1 < MAX_SEQ {
            (last.0, last.1 + 1)
        } else {
            (last.0 + 1, 0)
        };
        *last = (ms, seq);
        drop(last);
        Id((ms << (NODE_BITS + SEQ_BITS)) | (self.node << SEQ_BITS) | seq)
    }

    /// The creation time encoded in an id (unix milliseconds).
    pub fn timestamp_of(id: Id) -> Timestamp {
        (id.0 >> (NODE_BITS + SEQ_BITS)) + EPOCH_MS
    }

    /// The smallest id that any generator could produce at `ts`, usable as
    /// a pagination cursor for a point in time.
    pub fn first_id_at(ts: Timestamp) -> Id {
        Id((ts - EPOCH_MS).max(0) << (NODE_BITS + SEQ_BITS))
    }
}

impl Default for IdGenerator {
    fn default() -> Self {
        Self::new(0)
    }
}

/// The current time in unix milliseconds.
pub fn now_ms() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_strictly_increasing_and_carry_their_time() {
        let ids = IdGenerator::new(3);
        let before = now_ms();
        let mut prev = ids.next_id();
        for _ in 0..20_000 {
            let id = ids.next_id();
            assert!(id > prev);
            prev = id;
        }
        let ts = IdGenerator::timestamp_of(prev);
        assert!(ts >= before);
        assert_eq!((prev.0 >> SEQ_BITS) & i64::from(MAX_NODE_ID), 3);
        assert!(IdGenerator::first_id_at(before) <= prev);
    }
}
