//! The in-memory engine: one process, no broker. Streams live in this
//! process; a restart starts a new epoch, so clients resync.
//!
//! History older than `history.max_age` is dropped from every room, quiet
//! ones too, by a sweep that publishes run at most every
//! [`SWEEP_EVERY`]; the sweep also forgets a room whose history is empty
//! and that no connection is in. Each stream has its own epoch, so a room
//! made again later never reuses the old one's offsets: a client resuming
//! from the old stream is told to resync.
//!
//! Presence versions come from one counter for every user, so a user's
//! entry can be forgotten once they went offline with the default status
//! (the offline check's [`PresenceOp::Read`]) and made again later with a
//! higher version; meanwhile a peek reads them offline at the latest version
//! given out. The registry holds only users who are online or chose a
//! status.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use chinwag_protocol::model::{PresenceStatus, UserRole};
use chinwag_protocol::stream::ResyncReason;
use chinwag_protocol::{Event, EventClass, Id, StreamPos};
use tokio::time::Instant;

use crate::conn::lock;
use crate::engine::{
    ControlMsg, ControlSender, Engine, HistoryConfig, PresenceOp, PresenceSnapshot, Replay,
};
use crate::local::Local;
use crate::{ConnId, HubError, RoomId, SharedFrame};

/// At most how often a publish sweeps every room's history.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct RoomStream {
    epoch: String,
    head: u64,
    history: VecDeque<(Instant, Arc<SharedFrame>)>,
}

impl RoomStream {
    fn trim(&mut self, config: &HistoryConfig, now: Instant) {
        while self.history.len() > config.max_len {
            self.history.pop_front();
        }
        while self
            .history
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > config.max_age)
        {
            self.history.pop_front();
        }
    }
}

/// The single-process engine.
#[derive(Debug)]
pub struct MemoryEngine {
    local: Arc<Local>,
    control: ControlSender,
    history: HistoryConfig,
    streams: Mutex<HashMap<RoomId, Arc<Mutex<RoomStream>>>>,
    /// When the last sweep ran.
    swept: Mutex<Instant>,
    presence: Mutex<Presences>,
    presence_delay: Option<Duration>,
}

/// The presence registry.
#[derive(Debug, Default)]
struct Presences {
    users: HashMap<Id, PresenceEntry>,
    /// The last version given to any user.
    version: i64,
}

#[derive(Debug)]
struct PresenceEntry {
    conns: HashSet<ConnId>,
    status: PresenceStatus,
    version: i64,
}

impl MemoryEngine {
    /// A new engine delivering into `local`; every stream starts in a fresh
    /// random epoch.
    pub fn new(local: Arc<Local>, control: ControlSender, history: HistoryConfig) -> MemoryEngine {
        MemoryEngine {
            local,
            control,
            history,
            streams: Mutex::default(),
            swept: Mutex::new(Instant::now()),
            presence: Mutex::default(),
            presence_delay: None,
        }
    }

    /// Fault injection for tests: every presence operation first waits a
    /// random time up to `max`, so concurrent operations finish out of order.
    pub fn with_presence_delay(mut self, max: Duration) -> MemoryEngine {
        self.presence_delay = Some(max);
        self
    }

    /// The room's stream, made (in a new epoch) if there is none.
    fn stream(&self, room: &RoomId) -> Arc<Mutex<RoomStream>> {
        lock(&self.streams)
            .entry(room.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(RoomStream {
                    epoch: format!("{:016x}", rand::random::<u64>()),
                    head: 0,
                    history: VecDeque::new(),
                }))
            })
            .clone()
    }

    /// Every [`SWEEP_EVERY`] at most: trims every room's history by age,
    /// and forgets the rooms left with no history and no connection.
    fn sweep_if_due(&self, now: Instant) {
        {
            let mut swept = lock(&self.swept);
            if now.duration_since(*swept) < SWEEP_EVERY {
                return;
            }
            *swept = now;
        }
        lock(&self.streams).retain(|room, stream| {
            let empty = {
                let mut stream = lock(stream);
                stream.trim(&self.history, now);
                stream.history.is_empty()
            };
            !empty || self.local.has_interest(room)
        });
    }

    /// The number of rooms with a stream (for tests of the sweep).
    pub fn stream_count(&self) -> usize {
        lock(&self.streams).len()
    }

    /// The number of users the presence registry holds.
    pub fn presence_count(&self) -> usize {
        lock(&self.presence).users.len()
    }
}

impl PresenceEntry {
    fn snapshot(&self) -> PresenceSnapshot {
        PresenceSnapshot {
            connections: self.conns.len(),
            status: self.status,
            version: self.version,
        }
    }
}

impl RoomStream {
    fn pos(&self, offset: u64) -> StreamPos {
        StreamPos {
            epoch: self.epoch.clone(),
            offset,
        }
    }
}

impl Engine for MemoryEngine {
    async fn publish(
        &self,
        room: &RoomId,
        event: Event,
        only_role: Option<UserRole>,
    ) -> Result<Option<StreamPos>, HubError> {
        if event.class() == EventClass::Ephemeral {
            let frame = Arc::new(SharedFrame::new(room.clone(), None, event, only_role));
            self.local.deliver(&frame);
            return Ok(None);
        }
        let now = Instant::now();
        self.sweep_if_due(now);
        let stream = self.stream(room);
        // Offset assignment, history append and local delivery happen under
        // the stream lock, so delivery order is offset order.
        let mut stream = lock(&stream);
        stream.head += 1;
        let pos = stream.pos(stream.head);
        let frame = Arc::new(SharedFrame::new(
            room.clone(),
            Some(pos.clone()),
            event,
            only_role,
        ));
        stream.history.push_back((now, frame.clone()));
        stream.trim(&self.history, now);
        self.local.deliver(&frame);
        Ok(Some(pos))
    }

    async fn head(&self, room: &RoomId) -> Result<StreamPos, HubError> {
        let stream = self.stream(room);
        let stream = lock(&stream);
        Ok(stream.pos(stream.head))
    }

    async fn replay(&self, room: &RoomId, since: &StreamPos) -> Result<Replay, HubError> {
        let stream = self.stream(room);
        let mut stream = lock(&stream);
        stream.trim(&self.history, Instant::now());
        let head = stream.pos(stream.head);
        if since.epoch != stream.epoch || since.offset > stream.head {
            return Ok(Replay::Resync {
                reason: ResyncReason::EpochChanged,
                head,
            });
        }
        let first = stream
            .history
            .front()
            .and_then(|(_, f)| f.offset())
            .unwrap_or(stream.head + 1);
        if since.offset + 1 < first {
            return Ok(Replay::Resync {
                reason: ResyncReason::HistoryTruncated,
                head,
            });
        }
        let skip = (since.offset + 1 - first) as usize;
        Ok(Replay::Events(
            stream
                .history
                .iter()
                .skip(skip)
                .map(|(_, f)| f.clone())
                .collect(),
        ))
    }

    async fn set_interest(&self, _room: &RoomId, _interested: bool) -> Result<(), HubError> {
        Ok(())
    }

    async fn send_to_conn(
        &self,
        conn: ConnId,
        room: &RoomId,
        event: Event,
    ) -> Result<(), HubError> {
        self.local.send_to_local_conn(conn, room, event)
    }

    async fn control(&self, msg: ControlMsg) -> Result<(), HubError> {
        self.control
            .send(msg)
            .map_err(|_| HubError::Engine("hub stopped".into()))
    }

    async fn presence(&self, user: Id, op: PresenceOp) -> Result<PresenceSnapshot, HubError> {
        if let Some(max) = self.presence_delay {
            let jitter = rand::random::<u64>() % (max.as_micros() as u64 + 1);
            tokio::time::sleep(Duration::from_micros(jitter)).await;
        }
        let mut presence = lock(&self.presence);
        let Presences { users, version } = &mut *presence;
        if let PresenceOp::Peek = op {
            // A forgotten user reads as offline at the latest version
            // given out, which is at least any version they ever had.
            return Ok(users.get(&user).map_or(
                PresenceSnapshot {
                    connections: 0,
                    status: PresenceStatus::Online,
                    version: *version,
                },
                PresenceEntry::snapshot,
            ));
        }
        let entry = users.entry(user).or_insert_with(|| PresenceEntry {
            conns: HashSet::new(),
            status: PresenceStatus::Online,
            version: 0,
        });
        match op {
            PresenceOp::Add(conn) => {
                entry.conns.insert(conn);
            }
            PresenceOp::Remove(conn) => {
                entry.conns.remove(&conn);
            }
            PresenceOp::SetStatus(status) => entry.status = status,
            PresenceOp::Read | PresenceOp::Peek => {}
        }
        *version += 1;
        entry.version = *version;
        let snap = entry.snapshot();
        let forgotten = op == PresenceOp::Read
            && snap.connections == 0
            && snap.status == PresenceStatus::Online;
        if forgotten {
            users.remove(&user);
        }
        Ok(snap)
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}
