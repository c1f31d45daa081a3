//! The NATS engine: N nodes sharing one NATS server (with JetStream) behave
//! like one hub.
//!
//! - **Offsets and history**: one JetStream stream holds every room's
//!   history, one subject per room (`max_messages_per_subject` bounds it,
//!   `max_age` ages it). Each message carries its room's epoch and offset
//!   in headers (and in the event JSON). A publisher appends offset `n + 1`
//!   with `Nats-Expected-Last-Subject-Sequence` set to the stream sequence
//!   of offset `n`: JetStream accepts exactly one successor per offset, so
//!   offsets are contiguous and gap-free; a loser reloads the room's last
//!   message and retries. Publishers on one node queue per room first. A
//!   run of durable events to one room ([`Engine::publish_many`]) is stored
//!   as one message holding them all, one round trip.
//! - **Fan-out order**: the stream *republishes* every stored message to
//!   the room's fan-out subject, in stream-sequence order, which is offset
//!   order. Rejected appends are never republished. Nodes subscribe (core
//!   NATS, one connection per node) to a room's fan-out subject only while
//!   they have interest. Ephemeral events go to the fan-out subject
//!   directly and never touch the stream.
//! - **Epochs**: a room's epoch is chosen by whoever starts its chain (the
//!   first publish, or `head` on an empty room, which stores a marker at
//!   offset 0). If the room's messages all vanish (aged out, stream
//!   recreated) the next chain gets a new epoch, so old positions resync
//!   instead of matching reused offsets.
//! - **Reconnects**: the client reconnects and resubscribes by itself; each
//!   room's delivery task then fills the offsets it missed from history,
//!   and any later gap is filled the same way before delivery.
//! - **Membership changes** go into a control stream (bounded, gap-free
//!   sequences) that republishes each one with its sequence, so a node that
//!   reconnects applies the ones it missed.
//! - **Presence**: a JetStream key-value bucket, one entry per user (its
//!   connections, status and version) updated by compare-and-set; a bucket
//!   of per-node connection indexes; a liveness bucket whose entries expire
//!   after [`BrokerOptions::node_ttl`]. Every node's reaper removes the
//!   connections of nodes whose liveness entry expired
//!   (see [`NatsEngine::subscribe_reaped`]).
//!
//! # Layout
//! - `names`: subjects, stream and bucket names.
//! - `chain`: offsets, history, `head` and `replay`.
//! - `fanout`: subscriptions and delivery.
//! - `pack`: several events of a room in one stored message.
//! - `control`: the control log.
//! - `liveness`: presence, heartbeat and reaper.

mod chain;
mod control;
mod fanout;
mod liveness;
mod names;
mod pack;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use chinwag_protocol::model::UserRole;
use chinwag_protocol::{Event, EventClass, Id, StreamPos};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::conn::lock;
use crate::engine::broker::{
    BrokerOptions, EncodedEvent, REAPED_CAPACITY, REAPED_MARK_TTL, Reaped, conn_payload,
    engine_err, room_payload,
};
use crate::engine::control_log::ControlCursor;
use crate::engine::{
    ControlMsg, ControlSender, Engine, HistoryConfig, PresenceOp, PresenceSnapshot, Publication,
    Replay,
};
use crate::local::Local;
use crate::{ConnId, HubError, KeyedSerializer, RoomId};

use chain::Chain;
use names::Names;
use pack::Pack;

/// How long a `to_conn` request waits for the holding node's answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The NATS engine. Dropping it stops its tasks without cleaning up the
/// registry (as a crash would); call [`NatsEngine::shutdown`] first to
/// leave cleanly.
pub struct NatsEngine {
    inner: Arc<Inner>,
    tasks: Vec<JoinHandle<()>>,
}

pub(crate) struct Inner {
    local: Arc<Local>,
    control: ControlSender,
    opts: BrokerOptions,
    names: Names,
    client: async_nats::Client,
    js: jetstream::Context,
    rooms: stream::Stream,
    control_stream: stream::Stream,
    presence: kv::Store,
    node_conns: kv::Store,
    alive: kv::Store,
    reaped_marks: kv::Store,
    /// The last known chain end per room this node published to.
    chains: Mutex<HashMap<RoomId, Chain>>,
    publishing: KeyedSerializer<RoomId>,
    /// The delivery task of each room this node is subscribed to.
    subs: Mutex<HashMap<RoomId, JoinHandle<()>>>,
    /// The last position delivered per interesting room.
    cursors: Mutex<HashMap<RoomId, StreamPos>>,
    /// The last control message applied.
    control_log: ControlCursor,
    /// Bumped on every (re)connect.
    connects: watch::Sender<u64>,
    reaped: broadcast::Sender<Reaped>,
    room_messages: AtomicU64,
}

impl NatsEngine {
    /// Connects with default [`BrokerOptions`] for this prefix and history.
    pub async fn connect(
        url: &str,
        local: Arc<Local>,
        control: ControlSender,
        history: HistoryConfig,
        key_prefix: &str,
    ) -> Result<NatsEngine, HubError> {
        Self::connect_with(url, local, control, BrokerOptions::new(key_prefix, history)).await
    }

    /// The JetStream stream holding the recent membership changes (the
    /// control log).
    pub fn control_stream_name(&self) -> String {
        self.inner.names.control_stream()
    }

    /// Connects to NATS at `url`, creates the stream and buckets if needed,
    /// subscribes this node's subjects and starts the heartbeat and reaper.
    /// Fails if NATS (or JetStream) cannot be reached.
    pub async fn connect_with(
        url: &str,
        local: Arc<Local>,
        control: ControlSender,
        opts: BrokerOptions,
    ) -> Result<NatsEngine, HubError> {
        opts.validate()?;
        let names = Names::new(&opts.prefix);
        let connects = watch::Sender::new(0u64);
        let on_event = connects.clone();
        let client = async_nats::ConnectOptions::new()
            .name(local.node().name())
            .max_reconnects(None)
            .request_timeout(Some(REQUEST_TIMEOUT))
            .event_callback(move |event| {
                let on_event = on_event.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => on_event.send_modify(|n| *n += 1),
                        other => tracing::warn!(%other, "nats connection event"),
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|e| engine_err("nats connect", e))?;
        let js = jetstream::new(client.clone());
        let rooms = chain::ensure_stream(&js, &names, &opts).await?;
        let control_stream = control::ensure_stream(&js, &names).await?;
        let presence = liveness::ensure_bucket(&js, names.presence_bucket(), None).await?;
        let node_conns = liveness::ensure_bucket(&js, names.node_conns_bucket(), None).await?;
        let alive = liveness::ensure_bucket(&js, names.alive_bucket(), Some(opts.node_ttl)).await?;
        let reaped_marks =
            liveness::ensure_bucket(&js, names.reaped_bucket(), Some(REAPED_MARK_TTL)).await?;
        let inner = Arc::new(Inner {
            local,
            control,
            names,
            opts,
            client,
            js,
            rooms,
            control_stream,
            presence,
            node_conns,
            alive,
            reaped_marks,
            chains: Mutex::default(),
            publishing: KeyedSerializer::new(),
            subs: Mutex::default(),
            cursors: Mutex::default(),
            control_log: ControlCursor::default(),
            connects,
            reaped: broadcast::channel(REAPED_CAPACITY).0,
            room_messages: AtomicU64::new(0),
        });
        inner.control_log.start(control::head(&inner).await?);
        let mut tasks = fanout::start(&inner).await?;
        liveness::beat(&inner).await?;
        tasks.push(tokio::spawn(liveness::run(inner.clone())));
        Ok(NatsEngine { inner, tasks })
    }

    /// Connections removed from the registry because their node died, as
    /// this node's reaper removes them. The hub side should check each
    /// user's presence and publish `USER_OFFLINE` when no connection is
    /// left.
    pub fn subscribe_reaped(&self) -> broadcast::Receiver<Reaped> {
        self.inner.reaped.subscribe()
    }

    /// Room messages this node has received from NATS (a measure of which
    /// rooms it is subscribed to).
    pub fn room_messages_received(&self) -> u64 {
        self.inner.room_messages.load(Ordering::Relaxed)
    }

    /// Leaves the cluster cleanly: stops the tasks and removes this node's
    /// connections from the presence registry at once (instead of after the
    /// liveness TTL). Returns what was removed.
    pub async fn shutdown(&mut self) -> Result<Vec<Reaped>, HubError> {
        self.stop_tasks();
        let key = Names::node_key(self.inner.local.node().tag());
        self.inner
            .alive
            .delete(&key)
            .await
            .map_err(|e| engine_err("nats shutdown", e))?;
        liveness::reap(&self.inner, &key).await
    }

    fn stop_tasks(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        for (_, task) in lock(&self.inner.subs).drain() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for NatsEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsEngine")
            .field("node", self.inner.local.node())
            .field("prefix", &self.inner.opts.prefix)
            .finish_non_exhaustive()
    }
}

impl Drop for NatsEngine {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

impl NatsEngine {
    async fn publish_ephemeral(
        &self,
        room: &RoomId,
        encoded: &EncodedEvent,
        only_role: Option<UserRole>,
    ) -> Result<(), HubError> {
        let payload = room_payload(only_role, &encoded.plain());
        self.inner
            .client
            .publish(self.inner.names.fanout(room), Bytes::from(payload))
            .await
            .map_err(|e| engine_err("nats publish", e))
    }

    /// Appends the pack (if any) and records one result per event.
    async fn send_pack(
        &self,
        pack: &mut Pack,
        results: &mut Vec<Result<Option<StreamPos>, HubError>>,
    ) {
        let Some((room, events)) = pack.take() else {
            return;
        };
        match chain::publish(&self.inner, &room, &events).await {
            Ok(positions) => results.extend(positions.into_iter().map(|pos| Ok(Some(pos)))),
            Err(err) => results.extend(events.iter().map(|_| Err(err.clone()))),
        }
    }
}

impl Engine for NatsEngine {
    async fn publish(
        &self,
        room: &RoomId,
        event: Event,
        only_role: Option<UserRole>,
    ) -> Result<Option<StreamPos>, HubError> {
        let durable = event.class() == EventClass::Durable;
        let encoded = EncodedEvent::new(room, event)?;
        if durable {
            let mut positions = chain::publish(&self.inner, room, &[(encoded, only_role)]).await?;
            return Ok(positions.pop());
        }
        self.publish_ephemeral(room, &encoded, only_role).await?;
        Ok(None)
    }

    /// Consecutive durable events of one room go out as one pack, one
    /// append; everything else one by one, in run order.
    async fn publish_many(
        &self,
        run: Vec<Publication>,
    ) -> Vec<Result<Option<StreamPos>, HubError>> {
        let mut results = Vec::with_capacity(run.len());
        let mut pack = Pack::default();
        for p in run {
            let durable = p.event.class() == EventClass::Durable;
            let encoded = match EncodedEvent::new(&p.room, p.event) {
                Ok(encoded) => encoded,
                Err(err) => {
                    self.send_pack(&mut pack, &mut results).await;
                    results.push(Err(err));
                    continue;
                }
            };
            if !durable {
                self.send_pack(&mut pack, &mut results).await;
                let sent = self.publish_ephemeral(&p.room, &encoded, p.only_role).await;
                results.push(sent.map(|()| None));
                continue;
            }
            if !pack.takes(&p.room, &encoded) {
                self.send_pack(&mut pack, &mut results).await;
            }
            pack.push(p.room, encoded, p.only_role);
        }
        self.send_pack(&mut pack, &mut results).await;
        results
    }

    async fn head(&self, room: &RoomId) -> Result<StreamPos, HubError> {
        Ok(chain::head(&self.inner, room).await?.pos())
    }

    async fn replay(&self, room: &RoomId, since: &StreamPos) -> Result<Replay, HubError> {
        chain::replay(&self.inner, room, since).await
    }

    async fn set_interest(&self, room: &RoomId, interested: bool) -> Result<(), HubError> {
        fanout::set_interest(&self.inner, room, interested).await
    }

    async fn send_to_conn(
        &self,
        conn: ConnId,
        room: &RoomId,
        event: Event,
    ) -> Result<(), HubError> {
        let inner = &self.inner;
        if conn.node_tag() == inner.local.node().tag() {
            return inner.local.send_to_local_conn(conn, room, event);
        }
        let json = EncodedEvent::new(room, event)?.plain();
        let reply = inner
            .client
            .request(
                inner.names.node(conn.node_tag()),
                Bytes::from(conn_payload(conn, &json)),
            )
            .await;
        match reply {
            Ok(reply) if reply.payload.as_ref() == b"1" => Ok(()),
            Ok(_) => Err(HubError::UnknownConn),
            Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => {
                Err(HubError::UnknownConn)
            }
            Err(err) => Err(engine_err("nats to_conn", err)),
        }
    }

    async fn control(&self, msg: ControlMsg) -> Result<(), HubError> {
        control::publish(&self.inner, &msg).await
    }

    async fn presence(&self, user: Id, op: PresenceOp) -> Result<PresenceSnapshot, HubError> {
        liveness::presence(&self.inner, user, op).await
    }

    fn name(&self) -> &'static str {
        "nats"
    }
}
