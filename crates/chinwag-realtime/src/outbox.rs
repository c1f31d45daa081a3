//! A connection's bounded outbox: the hub pushes without waiting, the
//! transport drains in batches.
//!
//! A `VecDeque` under a mutex plus one [`Notify`], rather than a tokio
//! channel: an idle connection's queue allocates nothing (a channel holds a
//! 32-slot block from the start), and the consumer is woken only when the
//! queue goes from empty to non-empty, or when a close request
//! ([`ConnHandle::request_close`](crate::ConnHandle::request_close)) asks it
//! to look at its connection.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::conn::{Outgoing, lock};

/// Capacity kept after a burst drains; anything larger is given back.
const KEEP_CAPACITY: usize = 64;

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Outgoing>,
    closed: bool,
    /// [`Sender::wake`] was called and no receive has returned since.
    woken: bool,
}

/// Why a push failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The outbox holds `capacity` items.
    Full,
    /// The receiving end is gone.
    Closed,
}

/// The sending half, held by the hub's [`ConnHandle`](crate::ConnHandle).
#[derive(Debug)]
pub(crate) struct Sender {
    shared: Arc<Shared>,
    capacity: usize,
}

/// The receiving end of a connection's outbox, drained by the transport.
#[derive(Debug)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// A bounded outbox of `capacity` items.
pub(crate) fn outbox(capacity: usize) -> (Sender, Outbox) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        ready: Notify::new(),
    });
    let sender = Sender {
        shared: shared.clone(),
        capacity: capacity.max(1),
    };
    (sender, Outbox { shared })
}

impl Sender {
    /// Queues `item` unless the outbox is closed or fewer than
    /// `keep_free` slots (at least one) would be free before it.
    pub(crate) fn try_push(&self, item: Outgoing, keep_free: usize) -> Result<(), PushError> {
        let was_empty = {
            let mut queue = lock(&self.shared.queue);
            if queue.closed {
                return Err(PushError::Closed);
            }
            if self.capacity - queue.items.len() < keep_free.max(1) {
                return Err(PushError::Full);
            }
            queue.items.push_back(item);
            queue.items.len() == 1
        };
        if was_empty {
            self.shared.ready.notify_one();
        }
        Ok(())
    }

    /// Makes the pending or next [`Outbox::recv_many`] return, even with
    /// nothing queued, and resolves [`Outbox::woken`].
    pub(crate) fn wake(&self) {
        lock(&self.shared.queue).woken = true;
        self.shared.ready.notify_one();
    }

    /// Free slots.
    #[cfg(test)]
    fn free(&self) -> usize {
        self.capacity - lock(&self.shared.queue).items.len()
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        lock(&self.shared.queue).closed = true;
        self.shared.ready.notify_one();
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let mut queue = lock(&self.shared.queue);
        queue.closed = true;
        queue.items = VecDeque::new();
    }
}

impl Outbox {
    /// Waits for items and moves up to `limit` of them into `buf`. Returns
    /// 0 once the sender is gone and the outbox is empty, or after a
    /// wake (a [`ConnHandle::request_close`](crate::ConnHandle::request_close))
    /// with nothing queued.
    pub async fn recv_many(&mut self, buf: &mut Vec<Outgoing>, limit: usize) -> usize {
        loop {
            {
                let mut queue = lock(&self.shared.queue);
                let woken = std::mem::take(&mut queue.woken);
                if !queue.items.is_empty() {
                    let n = queue.items.len().min(limit.max(1));
                    buf.extend(queue.items.drain(..n));
                    if queue.items.is_empty() && queue.items.capacity() > KEEP_CAPACITY {
                        queue.items.shrink_to(KEEP_CAPACITY);
                    }
                    return n;
                }
                if queue.closed || woken {
                    return 0;
                }
            }
            // A push after the check above leaves a permit, so this cannot
            // miss it; a stale permit only costs one more look.
            self.shared.ready.notified().await;
        }
    }

    /// Resolves after a wake (a close request) or once the sender is gone,
    /// leaving queued items where they are.
    pub async fn woken(&mut self) {
        loop {
            {
                let mut queue = lock(&self.shared.queue);
                if std::mem::take(&mut queue.woken) || queue.closed {
                    return;
                }
            }
            self.shared.ready.notified().await;
        }
    }

    /// Waits for the next item (`None` once the sender is gone, or on a
    /// close request with nothing queued).
    pub async fn recv(&mut self) -> Option<Outgoing> {
        let mut one = Vec::with_capacity(1);
        match self.recv_many(&mut one, 1).await {
            0 => None,
            _ => one.pop(),
        }
    }

    /// The next item, if one is queued now.
    pub fn try_recv(&mut self) -> Option<Outgoing> {
        lock(&self.shared.queue).items.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::Control;
    use chinwag_protocol::CloseCode;
    use futures_util::FutureExt;

    fn item() -> Outgoing {
        Outgoing::Control(Box::new(Control::Close(CloseCode::Normal)))
    }

    #[tokio::test]
    async fn bounded_batched_and_closed_when_the_sender_goes() {
        let (tx, mut rx) = outbox(3);
        for _ in 0..3 {
            tx.try_push(item(), 0).unwrap();
        }
        assert_eq!(tx.try_push(item(), 0), Err(PushError::Full));
        assert_eq!(tx.free(), 0);
        let mut batch = Vec::new();
        assert_eq!(rx.recv_many(&mut batch, 2).await, 2);
        assert_eq!(rx.recv_many(&mut batch, 8).await, 1);
        assert_eq!(tx.free(), 3);
        let waiter = tokio::spawn(async move {
            let mut batch = Vec::new();
            let got = rx.recv_many(&mut batch, 8).await;
            (got, rx.recv_many(&mut batch, 8).await)
        });
        tokio::task::yield_now().await;
        tx.try_push(item(), 0).unwrap();
        drop(tx);
        assert_eq!(waiter.await.unwrap(), (1, 0));
    }

    #[test]
    fn keep_free_holds_slots_back() {
        let (tx, _rx) = outbox(3);
        // Allowed while at least 2 slots are free before the push.
        tx.try_push(item(), 2).unwrap();
        tx.try_push(item(), 2).unwrap();
        assert_eq!(tx.try_push(item(), 2), Err(PushError::Full));
        tx.try_push(item(), 0).unwrap();
        assert_eq!(tx.try_push(item(), 0), Err(PushError::Full));
    }

    #[tokio::test]
    async fn a_wake_ends_a_wait_once_without_taking_items() {
        let (tx, mut rx) = outbox(3);
        let waiter = tokio::spawn(async move {
            let mut batch = Vec::new();
            let first = rx.recv_many(&mut batch, 8).await;
            (first, rx)
        });
        tokio::task::yield_now().await;
        tx.wake();
        let (first, mut rx) = waiter.await.unwrap();
        assert_eq!(first, 0, "woken with nothing queued");
        tx.try_push(item(), 0).unwrap();
        tx.wake();
        rx.woken().await;
        let mut batch = Vec::new();
        assert_eq!(
            rx.recv_many(&mut batch, 8).await,
            1,
            "the item is still there"
        );
        // The wake was consumed: the next wait needs a new one.
        assert!(rx.woken().now_or_never().is_none());
    }

    #[tokio::test]
    async fn a_dropped_outbox_refuses_pushes() {
        let (tx, rx) = outbox(3);
        drop(rx);
        assert_eq!(tx.try_push(item(), 0), Err(PushError::Closed));
    }
}
