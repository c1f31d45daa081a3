//! [`Local`]: this node's connections, which local connections are in which
//! room, and the server-side bus subscribers. Engines deliver into it.
//!
//! Every critical section is a short `std::sync::Mutex` hold with no
//! `.await` inside; fan-out holds one room's member lock while it
//! `try_send`s to each member's outbox.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chinwag_protocol::Id;
use chinwag_protocol::model::UserRole;
use tokio::sync::broadcast;

use crate::conn::{ConnHandle, Control, OutboxConfig, lock};
use crate::{ConnId, NodeId, Outbox, RoomId, SharedFrame};

type Members = Arc<Mutex<HashMap<ConnId, Arc<ConnHandle>>>>;

/// Counts of this node's fan-out since it started, for metrics: one
/// addition per frame, not one per recipient.
#[derive(Debug, Default)]
pub struct FanoutStats {
    /// Frames fanned out to this node's connections.
    pub frames: AtomicU64,
    /// Deliveries offered: each frame once per local recipient.
    pub deliveries: AtomicU64,
}

/// This node's live state.
#[derive(Debug)]
pub struct Local {
    node: NodeId,
    stats: FanoutStats,
    outbox: OutboxConfig,
    next_seq: AtomicU64,
    conns: Mutex<HashMap<ConnId, Arc<ConnHandle>>>,
    users: Mutex<HashMap<Id, Vec<Arc<ConnHandle>>>>,
    rooms: Mutex<HashMap<RoomId, Members>>,
    bus: Mutex<HashMap<RoomId, broadcast::Sender<Arc<SharedFrame>>>>,
}

impl Local {
    /// Empty state for `node`.
    pub fn new(node: NodeId, outbox: OutboxConfig) -> Local {
        Local {
            node,
            stats: FanoutStats::default(),
            outbox,
            next_seq: AtomicU64::new(1),
            conns: Mutex::default(),
            users: Mutex::default(),
            rooms: Mutex::default(),
            bus: Mutex::default(),
        }
    }

    /// This node.
    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// Registers a new connection and returns its handle and outbox.
    pub fn register(&self, user_id: Id, role: UserRole) -> (Arc<ConnHandle>, Outbox) {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let id = ConnId::new(self.node.tag(), seq);
        let (handle, outbox) = ConnHandle::new(id, user_id, role, self.outbox);
        lock(&self.conns).insert(id, handle.clone());
        lock(&self.users)
            .entry(user_id)
            .or_default()
            .push(handle.clone());
        (handle, outbox)
    }

    /// Forgets a connection and takes it out of every room. Returns the
    /// rooms it was in.
    pub fn unregister(&self, conn: &ConnHandle) -> Vec<RoomId> {
        lock(&self.conns).remove(&conn.id());
        {
            let mut users = lock(&self.users);
            if let Some(list) = users.get_mut(&conn.user_id()) {
                list.retain(|c| c.id() != conn.id());
                if list.is_empty() {
                    users.remove(&conn.user_id());
                }
            }
        }
        let rooms = conn.take_rooms();
        for room in &rooms {
            self.remove_member_only(conn.id(), room);
        }
        rooms
    }

    /// A local connection by id.
    pub fn conn(&self, id: ConnId) -> Option<Arc<ConnHandle>> {
        lock(&self.conns).get(&id).cloned()
    }

    /// The local connections of a user.
    pub fn user_conns(&self, user: Id) -> Vec<Arc<ConnHandle>> {
        lock(&self.users).get(&user).cloned().unwrap_or_default()
    }

    /// Adds a connection to a room. Returns false if it was already in.
    pub fn add_member(&self, conn: &Arc<ConnHandle>, room: &RoomId) -> bool {
        if !conn.add_room(room) {
            return false;
        }
        let members = lock(&self.rooms).entry(room.clone()).or_default().clone();
        lock(&members).insert(conn.id(), conn.clone());
        true
    }

    /// Removes a connection from a room. Returns false if it was not in.
    pub fn remove_member(&self, conn: &ConnHandle, room: &RoomId) -> bool {
        if !conn.remove_room(room) {
            return false;
        }
        self.remove_member_only(conn.id(), room);
        true
    }

    fn remove_member_only(&self, id: ConnId, room: &RoomId) {
        let mut rooms = lock(&self.rooms);
        if let Some(members) = rooms.get(room) {
            let empty = {
                let mut members = lock(members);
                members.remove(&id);
                members.is_empty()
            };
            if empty {
                rooms.remove(room);
            }
        }
    }

    /// Asks every local connection in a room to close with `code`; how
    /// many there were.
    pub fn close_room(&self, room: &RoomId, code: chinwag_protocol::CloseCode) -> usize {
        let members: Vec<Arc<ConnHandle>> = match lock(&self.rooms).get(room) {
            Some(members) => lock(members).values().cloned().collect(),
            None => return 0,
        };
        for conn in &members {
            conn.request_close(code);
        }
        members.len()
    }

    /// Local members of a room.
    pub fn room_size(&self, room: &RoomId) -> usize {
        lock(&self.rooms).get(room).map_or(0, |m| lock(m).len())
    }

    /// Whether this node needs a room's traffic: it has members there or a
    /// server-side bus subscriber.
    pub fn has_interest(&self, room: &RoomId) -> bool {
        self.room_size(room) > 0
            || lock(&self.bus)
                .get(room)
                .is_some_and(|tx| tx.receiver_count() > 0)
    }

    /// Every room this node has interest in.
    pub fn interesting_rooms(&self) -> Vec<RoomId> {
        let mut rooms: Vec<RoomId> = lock(&self.rooms).keys().cloned().collect();
        rooms.extend(
            lock(&self.bus)
                .iter()
                .filter(|(_, tx)| tx.receiver_count() > 0)
                .map(|(r, _)| r.clone()),
        );
        rooms.sort();
        rooms.dedup();
        rooms
    }

    /// Fans a frame out to the room's local members (and bus subscribers).
    /// Never blocks: each member gets `try_send` under its overflow policy.
    pub fn deliver(&self, frame: &Arc<SharedFrame>) {
        let members = lock(&self.rooms).get(frame.room()).cloned();
        if let Some(members) = members {
            let members = lock(&members);
            for conn in members.values() {
                conn.push_event(frame);
            }
            self.stats
                .deliveries
                .fetch_add(members.len() as u64, Ordering::Relaxed);
        }
        self.stats.frames.fetch_add(1, Ordering::Relaxed);
        if frame.room().kind() == crate::RoomKind::Topic {
            let bus = lock(&self.bus).get(frame.room()).cloned();
            if let Some(tx) = bus {
                let _ = tx.send(frame.clone());
            }
        }
    }

    /// Delivers a frame to one local connection.
    pub fn deliver_to_conn(&self, id: ConnId, frame: &Arc<SharedFrame>) -> bool {
        let Some(conn) = self.conn(id) else {
            return false;
        };
        self.stats.frames.fetch_add(1, Ordering::Relaxed);
        self.stats.deliveries.fetch_add(1, Ordering::Relaxed);
        conn.push_event(frame)
    }

    /// Delivers an event without an offset (a `to_conn` push) to one local
    /// connection, labelled with `room`.
    pub fn send_to_local_conn(
        &self,
        id: ConnId,
        room: &RoomId,
        event: chinwag_protocol::Event,
    ) -> Result<(), crate::HubError> {
        let frame = Arc::new(SharedFrame::new(room.clone(), None, event, None));
        if self.deliver_to_conn(id, &frame) {
            Ok(())
        } else {
            Err(crate::HubError::UnknownConn)
        }
    }

    /// This node's fan-out counts.
    pub fn stats(&self) -> &FanoutStats {
        &self.stats
    }

    /// How many rooms have members on this node.
    pub fn room_count(&self) -> usize {
        lock(&self.rooms).len()
    }

    /// How many connections this node holds.
    pub fn conn_count(&self) -> usize {
        lock(&self.conns).len()
    }

    /// Calls `f` with every connection, under the registry lock.
    pub fn for_each_conn(&self, mut f: impl FnMut(&ConnHandle)) {
        for conn in lock(&self.conns).values() {
            f(conn);
        }
    }

    /// Sends a control message to every local connection of a user.
    pub fn control_user(&self, user: Id, make: impl Fn() -> Control) {
        for conn in self.user_conns(user) {
            conn.push_control(make());
        }
    }

    /// Subscribes server-side to a topic room on this node.
    pub fn bus_subscribe(&self, room: &RoomId) -> broadcast::Receiver<Arc<SharedFrame>> {
        lock(&self.bus)
            .entry(room.clone())
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe()
    }
}
