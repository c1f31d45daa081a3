//! How many WebSocket connections this node holds. A connection takes a
//! slot at its upgrade and gives it back when its session ends; an upgrade
//! with no slot free is refused with HTTP 503 `UNAVAILABLE`, so a full node
//! says so at once instead of running out of files (which would also stop
//! it opening database and broker connections) and leaving connects hanging
//! in the accept queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Files kept for everything but connections (database, broker, logs,
/// REST requests) when the limit is derived from the open-file limit.
pub const RESERVED_FILES: u64 = 512;

/// The connection slots of a node.
#[derive(Debug)]
pub struct Capacity {
    slots: Arc<Semaphore>,
    max: usize,
    /// Set while upgrades are being refused, so that a full node logs when
    /// it fills and when it has room again, not every refusal.
    full: AtomicBool,
}

/// A connection's slot, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Capacity {
    /// `max` connections; 0 derives it from the open-file limit
    /// ([`default_max`]).
    pub fn new(max: usize) -> Capacity {
        let max = match max {
            0 => default_max(),
            n => n,
        }
        .min(Semaphore::MAX_PERMITS);
        Capacity {
            slots: Arc::new(Semaphore::new(max)),
            max,
            full: AtomicBool::new(false),
        }
    }

    /// The most connections this node holds.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The slots taken now: upgraded connections, identified or not.
    pub fn in_use(&self) -> usize {
        self.max - self.slots.available_permits()
    }

    /// A free slot, or `None` when the node is full.
    pub fn try_take(&self) -> Option<Slot> {
        match self.slots.clone().try_acquire_owned() {
            Ok(permit) => {
                // A load first: the common case writes nothing shared.
                if self.full.load(Ordering::Relaxed) && self.full.swap(false, Ordering::Relaxed) {
                    tracing::info!(max = self.max, "connection slots free again");
                }
                Some(Slot { _permit: permit })
            }
            Err(_) => {
                if !self.full.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        max = self.max,
                        "node full: refusing WebSocket upgrades (gateway.max_connections)"
                    );
                }
                None
            }
        }
    }
}

/// The soft open-file limit less [`RESERVED_FILES`] (each connection is a
/// file), or unlimited where that limit is unknown or infinite.
pub fn default_max() -> usize {
    open_file_limit()
        .map(|files| files.saturating_sub(RESERVED_FILES).max(1))
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(Semaphore::MAX_PERMITS)
}

/// Raises this process's soft open-file limit to its hard limit, as a
/// server that holds a file per connection should (a soft limit of 1024 is
/// common). Called once at startup, before [`Capacity::new`].
#[cfg(unix)]
pub fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_none() || limit.current == limit.maximum {
        return;
    }
    let raised = rustix::process::Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => tracing::info!(
            from = limit.current,
            to = limit.maximum,
            "open-file limit raised"
        ),
        Err(err) => tracing::warn!(%err, "open-file limit not raised"),
    }
}

/// Raises this process's open-file limit (nothing to do off Unix).
#[cfg(not(unix))]
pub fn raise_open_file_limit() {}

#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_come_back_when_dropped() {
        let capacity = Capacity::new(2);
        let a = capacity.try_take().expect("first");
        let _b = capacity.try_take().expect("second");
        assert!(capacity.try_take().is_none());
        drop(a);
        assert!(capacity.try_take().is_some());
    }

    #[test]
    fn zero_follows_the_open_file_limit() {
        let max = Capacity::new(0).max();
        match open_file_limit() {
            Some(files) if files > RESERVED_FILES => {
                assert_eq!(max as u64, files - RESERVED_FILES)
            }
            Some(_) => assert_eq!(max, 1),
            None => assert_eq!(max, Semaphore::MAX_PERMITS),
        }
    }
}
