//! [`KeyedSerializer`]: work for one key (a message, a user's presence)
//! runs one at a time, in the order it asked; different keys run freely.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::conn::lock;

type Slot = Arc<tokio::sync::Mutex<()>>;

/// A per-key FIFO serializer. Slots exist only while someone holds or waits
/// for them, so memory follows the number of busy keys.
#[derive(Debug)]
pub struct KeyedSerializer<K> {
    slots: Mutex<HashMap<K, Slot>>,
}

impl<K> Default for KeyedSerializer<K> {
    fn default() -> Self {
        KeyedSerializer {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

/// Held while work for a key runs; the next waiter starts when it drops.
#[derive(Debug)]
pub struct SerialGuard<'a, K: Eq + Hash + Clone> {
    owner: &'a KeyedSerializer<K>,
    key: K,
    guard: Option<OwnedMutexGuard<()>>,
}

impl<K: Eq + Hash + Clone> KeyedSerializer<K> {
    /// A serializer with no busy keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits for the key's turn (tokio's mutex is fair: first come, first
    /// served).
    pub async fn lock(&self, key: K) -> SerialGuard<'_, K> {
        let slot = lock(&self.slots).entry(key.clone()).or_default().clone();
        let guard = slot.lock_owned().await;
        SerialGuard {
            owner: self,
            key,
            guard: Some(guard),
        }
    }

    /// Runs `work` in the key's turn.
    pub async fn run<T>(&self, key: K, work: impl Future<Output = T>) -> T {
        let _turn = self.lock(key).await;
        work.await
    }

    /// Keys with work running or waiting.
    pub fn busy_keys(&self) -> usize {
        lock(&self.slots).len()
    }
}

impl<K: Eq + Hash + Clone> Drop for SerialGuard<'_, K> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut slots = lock(&self.owner.slots);
        if slots
            .get(&self.key)
            .is_some_and(|slot| Arc::strong_count(slot) == 1)
        {
            slots.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn same_key_runs_in_order_and_slots_are_freed() {
        let serializer = Arc::new(KeyedSerializer::<u32>::new());
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..20u64 {
            let (serializer, log) = (serializer.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                serializer
                    .run(7, async {
                        // Earlier tasks sleep longer: without the serializer
                        // they would finish last.
                        tokio::time::sleep(Duration::from_millis(40 - i)).await;
                        log.lock().unwrap().push(i);
                    })
                    .await
            }));
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*log.lock().unwrap(), (0..20).collect::<Vec<_>>());
        assert_eq!(serializer.busy_keys(), 0);
    }
}
