//! Connections: ids, the hub-side [`ConnHandle`], and the bounded outbox with
//! its overflow policy.
//!
//! # The overflow policy
//! Every connection has one bounded outbox (default 1024 frames). The hub
//! never waits on it: fan-out uses `try_send`, so a slow reader costs the
//! others nothing.
//! 1. While fewer than `ephemeral_headroom` slots are free, ephemeral events
//!    (typing) are dropped and counted; the transport then sends a `lagged`
//!    frame with the count.
//! 2. When a durable event finds the outbox full, it is dropped, its room is
//!    recorded, and the connection is marked for closing: the transport
//!    sends `lagged` naming the rooms to resume, then closes with 4010
//!    (slow consumer). The client reconnects and resumes from its offsets,
//!    so nothing is lost.
//!
//! # Closing
//! Anything that wants a connection closed (overflow, shutdown, the
//! transport's reaper) calls [`ConnHandle::request_close`]: the first code
//! wins and the transport is woken through the outbox, so an idle
//! connection waits on one thing only.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU16, AtomicU64, Ordering};

use chinwag_protocol::model::UserRole;
use chinwag_protocol::{CloseCode, EventClass, Id, ServerFrame, StreamPos};
use tokio::time::Instant;

use crate::outbox::{self, Outbox, PushError};
use crate::{RoomId, SharedFrame};

/// This node's identity: a human-readable name for logs and health, and a
/// 24-bit tag embedded in every connection id it issues, so `to_conn` can be
/// routed to the right node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeId {
    tag: u32,
    name: Arc<str>,
}

impl NodeId {
    /// A node with a random tag; `name` defaults to `node-{tag}`.
    pub fn generate(name: Option<&str>) -> NodeId {
        let tag = rand::random::<u32>() & 0x00ff_ffff;
        let name = name.map_or_else(|| format!("node-{tag:06x}"), str::to_string);
        NodeId {
            tag,
            name: name.into(),
        }
    }

    /// The routing tag.
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A connection id, unique across the cluster: the node tag in the top 24
/// bits, a per-node sequence in the low 40. Written as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl ConnId {
    /// Builds an id from a node tag and a sequence number.
    pub fn new(node_tag: u32, seq: u64) -> ConnId {
        ConnId((u64::from(node_tag) << 40) | (seq & 0xff_ffff_ffff))
    }

    /// The tag of the node holding the connection.
    pub fn node_tag(self) -> u32 {
        (self.0 >> 40) as u32
    }

    /// Parses the hex form.
    pub fn parse(s: &str) -> Option<ConnId> {
        u64::from_str_radix(s, 16).ok().map(ConnId)
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Outbox sizing.
#[derive(Debug, Clone, Copy)]
pub struct OutboxConfig {
    /// Frames the outbox holds.
    pub capacity: usize,
    /// Ephemeral events are dropped while fewer slots than this are free.
    pub ephemeral_headroom: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            capacity: 1024,
            ephemeral_headroom: 256,
        }
    }
}

/// What the hub queues for a connection.
#[derive(Debug)]
pub enum Outgoing {
    /// An event, shared with the rest of the fan-out.
    Event(Arc<SharedFrame>),
    /// A control message (rare, so boxed to keep the queue slots small).
    Control(Box<Control>),
}

/// Control messages from the hub to a connection's transport. Rare, and
/// boxed inside [`Outgoing`], so their size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Control {
    /// The connection was joined to a room; live delivery starts after `pos`.
    Joined(RoomId, StreamPos),
    /// The connection was removed from a room.
    Left(RoomId, String),
    /// A frame to send as is (e.g. `reauth_required`, `reconnect`).
    Frame(ServerFrame),
    /// Close the connection with this code.
    Close(CloseCode),
}

/// The hub's handle on one local connection.
#[derive(Debug)]
pub struct ConnHandle {
    id: ConnId,
    user_id: Id,
    role: UserRole,
    tx: outbox::Sender,
    config: OutboxConfig,
    rooms: Mutex<HashSet<RoomId>>,
    dropped_ephemeral: AtomicU64,
    lag_pending: AtomicBool,
    overflowed: Mutex<Vec<RoomId>>,
    /// The requested close code, 0 while none is.
    close: AtomicU16,
    /// When the client was last heard from ([`monotonic_ms`]).
    heard_at_ms: AtomicU64,
    /// When its token expires (Unix ms).
    expires_at_ms: AtomicI64,
    /// The sign-in session its token names, 0 while none does.
    session: AtomicI64,
    /// A membership change for its user arrived since the transport last
    /// looked ([`ConnHandle::take_membership_changed`]).
    membership_changed: AtomicBool,
}

impl ConnHandle {
    pub(crate) fn new(
        id: ConnId,
        user_id: Id,
        role: UserRole,
        config: OutboxConfig,
    ) -> (Arc<ConnHandle>, Outbox) {
        let (tx, rx) = outbox::outbox(config.capacity);
        let handle = ConnHandle {
            id,
            user_id,
            role,
            tx,
            config,
            rooms: Mutex::new(HashSet::new()),
            dropped_ephemeral: AtomicU64::new(0),
            lag_pending: AtomicBool::new(false),
            overflowed: Mutex::new(Vec::new()),
            close: AtomicU16::new(0),
            heard_at_ms: AtomicU64::new(monotonic_ms()),
            expires_at_ms: AtomicI64::new(i64::MAX),
            session: AtomicI64::new(0),
            membership_changed: AtomicBool::new(false),
        };
        (Arc::new(handle), rx)
    }

    /// Connection id.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The user.
    pub fn user_id(&self) -> Id {
        self.user_id
    }

    /// The role.
    pub fn role(&self) -> UserRole {
        self.role
    }

    /// The rooms the connection is in now.
    pub fn rooms(&self) -> Vec<RoomId> {
        lock(&self.rooms).iter().cloned().collect()
    }

    /// How many of the connection's rooms are of `kind`.
    pub fn room_count(&self, kind: crate::RoomKind) -> usize {
        lock(&self.rooms)
            .iter()
            .filter(|r| r.kind() == kind)
            .count()
    }

    /// Whether the connection is in `room`.
    pub fn in_room(&self, room: &RoomId) -> bool {
        lock(&self.rooms).contains(room)
    }

    pub(crate) fn add_room(&self, room: &RoomId) -> bool {
        lock(&self.rooms).insert(room.clone())
    }

    pub(crate) fn remove_room(&self, room: &RoomId) -> bool {
        lock(&self.rooms).remove(room)
    }

    /// Notes that a join or leave for the connection's user is being
    /// applied, before it is.
    pub(crate) fn note_membership_change(&self) {
        self.membership_changed.store(true, Ordering::SeqCst);
    }

    /// Whether a membership change for the user arrived since the last
    /// call. A transport that read the user's rooms and then joined them
    /// checks this afterwards: a leave that arrived in between found the
    /// connection not yet in the room, so the rooms must be read again.
    pub fn take_membership_changed(&self) -> bool {
        self.membership_changed.swap(false, Ordering::SeqCst)
    }

    pub(crate) fn take_rooms(&self) -> Vec<RoomId> {
        lock(&self.rooms).drain().collect()
    }

    /// Queues an event under the overflow policy (see the module docs).
    /// Returns whether it was queued.
    pub fn push_event(&self, frame: &Arc<SharedFrame>) -> bool {
        if self.is_closing() || !frame.is_for(self.role) {
            return false;
        }
        // Ephemeral events leave the headroom free for durable ones.
        let keep_free = match frame.class() {
            EventClass::Ephemeral => self.config.ephemeral_headroom,
            EventClass::Durable => 0,
        };
        match self.tx.try_push(Outgoing::Event(frame.clone()), keep_free) {
            Ok(()) => true,
            Err(PushError::Full) => {
                if frame.class() == EventClass::Ephemeral {
                    self.drop_ephemeral();
                } else {
                    self.overflow(frame.room().clone());
                }
                false
            }
            Err(PushError::Closed) => false,
        }
    }

    /// Queues a control message. A full outbox means the connection is
    /// already too slow: it is marked for closing.
    pub fn push_control(&self, control: Control) -> bool {
        match self.tx.try_push(Outgoing::Control(Box::new(control)), 0) {
            Ok(()) => true,
            Err(PushError::Full) => {
                self.overflowed();
                false
            }
            Err(PushError::Closed) => false,
        }
    }

    fn drop_ephemeral(&self) {
        self.dropped_ephemeral.fetch_add(1, Ordering::Relaxed);
        self.lag_pending.store(true, Ordering::Release);
    }

    fn overflow(&self, room: RoomId) {
        {
            let mut rooms = lock(&self.overflowed);
            if !rooms.contains(&room) {
                rooms.push(room);
            }
        }
        self.overflowed();
    }

    fn overflowed(&self) {
        if self.request_close(CloseCode::SlowConsumer) {
            tracing::warn!(conn = %self.id, user = %self.user_id, "outbox full: closing slow consumer");
        }
    }

    /// Asks the transport to close the connection with `code` and wakes
    /// it. Only the first request counts; returns whether this was it.
    pub fn request_close(&self, code: CloseCode) -> bool {
        let first = self
            .close
            .compare_exchange(0, code.code(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if first {
            self.tx.wake();
        }
        first
    }

    /// The close requested, if any.
    pub fn close_requested(&self) -> Option<CloseCode> {
        CloseCode::from_code(self.close.load(Ordering::Acquire))
    }

    /// Whether a close was requested: nothing more is queued.
    pub fn is_closing(&self) -> bool {
        self.close.load(Ordering::Acquire) != 0
    }

    /// Records that the client was heard from now.
    pub fn heard(&self) {
        self.heard_at_ms.store(monotonic_ms(), Ordering::Relaxed);
    }

    /// Milliseconds since the client was last heard from.
    pub fn silent_ms(&self) -> u64 {
        monotonic_ms().saturating_sub(self.heard_at_ms.load(Ordering::Relaxed))
    }

    /// Sets when the connection's token expires (Unix ms).
    pub fn set_expires_at_ms(&self, at: i64) {
        self.expires_at_ms.store(at, Ordering::Relaxed);
    }

    /// When the connection's token expires (Unix ms).
    pub fn expires_at_ms(&self) -> i64 {
        self.expires_at_ms.load(Ordering::Relaxed)
    }

    /// Sets the sign-in session the connection's token names (ids are
    /// positive; `None` for a token that names none).
    pub fn set_session(&self, session: Option<Id>) {
        self.session
            .store(session.map_or(0, |s| s.0), Ordering::Relaxed);
    }

    /// The sign-in session the connection's token names.
    pub fn session(&self) -> Option<Id> {
        Some(self.session.load(Ordering::Relaxed))
            .filter(|&s| s != 0)
            .map(Id)
    }

    /// Takes the count of ephemeral events dropped since the last report,
    /// if any were, leaving overflowed rooms for [`ConnHandle::take_lag`].
    pub fn take_ephemeral_drops(&self) -> Option<u64> {
        self.lag_pending
            .swap(false, Ordering::AcqRel)
            .then(|| self.dropped_ephemeral.swap(0, Ordering::Relaxed))
    }

    /// Takes the pending lag report, if any: the number of ephemeral events
    /// dropped since the last report, and the rooms whose durable events
    /// were dropped.
    pub fn take_lag(&self) -> Option<(u64, Vec<RoomId>)> {
        let rooms = std::mem::take(&mut *lock(&self.overflowed));
        if !self.lag_pending.swap(false, Ordering::AcqRel) && rooms.is_empty() {
            return None;
        }
        Some((self.dropped_ephemeral.swap(0, Ordering::Relaxed), rooms))
    }
}

/// Milliseconds on the runtime's monotonic clock (tokio's, so paused-time
/// tests see it advance) since the first call.
pub fn monotonic_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Locks a std mutex, recovering from poisoning (the data is plain sets and
/// maps that stay consistent even if a holder panicked).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
