//! The in-memory engine: one process, no broker. Streams live in this
//! process; a restart starts a new epoch, so clients resync.

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

#[derive(Debug, Default)]
struct RoomStream {
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
    epoch: String,
    streams: Mutex<HashMap<RoomId, Arc<Mutex<RoomStream>>>>,
    presence: Mutex<HashMap<Id, PresenceEntry>>,
    presence_delay: Option<Duration>,
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
            epoch: format!("{:016x}", rand::random::<u64>()),
            streams: Mutex::default(),
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

    fn stream(&self, room: &RoomId) -> Arc<Mutex<RoomStream>> {
        lock(&self.streams).entry(room.clone()).or_default().clone()
    }

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
        let stream = self.stream(room);
        // Offset assignment, history append and local delivery happen under
        // the stream lock, so delivery order is offset order.
        let mut stream = lock(&stream);
        stream.head += 1;
        let pos = self.pos(stream.head);
        let frame = Arc::new(SharedFrame::new(
            room.clone(),
            Some(pos.clone()),
            event,
            only_role,
        ));
        let now = Instant::now();
        stream.history.push_back((now, frame.clone()));
        stream.trim(&self.history, now);
        self.local.deliver(&frame);
        Ok(Some(pos))
    }

    async fn head(&self, room: &RoomId) -> Result<StreamPos, HubError> {
        let head = lock(&self.streams).get(room).map_or(0, |s| lock(s).head);
        Ok(self.pos(head))
    }

    async fn replay(&self, room: &RoomId, since: &StreamPos) -> Result<Replay, HubError> {
        let Some(stream) = lock(&self.streams).get(room).cloned() else {
            return Ok(if since.epoch == self.epoch && since.offset == 0 {
                Replay::Events(Vec::new())
            } else {
                Replay::Resync {
                    reason: ResyncReason::EpochChanged,
                    head: self.pos(0),
                }
            });
        };
        let mut stream = lock(&stream);
        stream.trim(&self.history, Instant::now());
        let head = self.pos(stream.head);
        if since.epoch != self.epoch || since.offset > stream.head {
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
        let entry = presence.entry(user).or_insert_with(|| PresenceEntry {
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
            PresenceOp::Read => {}
        }
        entry.version += 1;
        Ok(PresenceSnapshot {
            connections: entry.conns.len(),
            status: entry.status,
            version: entry.version,
        })
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}
