//! The last access check that let a user send in a community channel, kept
//! so the next message needs one statement instead of two.
//!
//! An entry is only ever a hint: the message write re-checks the versions
//! it was read at ([`chinwag_store::Store::create_message_if_current`]), in
//! the same statement, so a change made on any node (a kick, a role or
//! override change, a timeout, a profile edit) makes the write fall back to
//! a fresh check. The cache is bounded: a full shard is emptied.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use chinwag_protocol::Id;

use super::Seen;

/// Shards, so concurrent senders rarely share a lock.
const SHARDS: usize = 16;
/// Entries per shard; 16 × 4096 entries of a few hundred bytes each.
const SHARD_CAPACITY: usize = 4096;

/// `(user, channel)` to the check that let the user send there.
#[derive(Debug)]
pub(crate) struct SendAccessCache {
    hasher: RandomState,
    shards: [Mutex<HashMap<(Id, Id), Seen>>; SHARDS],
}

impl Default for SendAccessCache {
    fn default() -> Self {
        SendAccessCache {
            hasher: RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::default()),
        }
    }
}

impl SendAccessCache {
    fn shard(&self, key: (Id, Id)) -> std::sync::MutexGuard<'_, HashMap<(Id, Id), Seen>> {
        let index = self.hasher.hash_one(key) as usize % SHARDS;
        // A panic while holding the lock cannot leave a map half-updated.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The remembered check, if any.
    pub fn get(&self, user: Id, channel: Id) -> Option<Seen> {
        self.shard((user, channel)).get(&(user, channel)).cloned()
    }

    /// Remembers a check that can guard a later write (it carries
    /// versions); others are not kept.
    pub fn remember(&self, user: Id, channel: Id, seen: &Seen) {
        if seen.versions.is_none() {
            return;
        }
        let mut shard = self.shard((user, channel));
        if shard.len() >= SHARD_CAPACITY {
            shard.clear();
        }
        shard.insert((user, channel), seen.clone());
    }

    /// Drops a check that turned out stale.
    pub fn forget(&self, user: Id, channel: Id) {
        self.shard((user, channel)).remove(&(user, channel));
    }

    /// How many checks are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }
}

#[cfg(test)]
mod tests;
