//! The Redis engine: N nodes sharing one Redis behave like one hub.
//!
//! - **Offsets and history**: each room has a metadata hash (`epoch`,
//!   `head`) and a Redis stream whose entry ids are `offset-millis`. One Lua
//!   script assigns the offset (`HINCRBY`), appends (`XADD MAXLEN`), trims by
//!   age and `PUBLISH`es the event; scripts run atomically, so the order of
//!   messages on the room's channel is offset order on every node. A run of
//!   publishes ([`Engine::publish_many`]) is one pipeline, one round trip.
//! - **Epochs**: the epoch is created with the metadata hash. If the hash
//!   disappears (it expires after [`BrokerOptions::idle_stream_ttl`] without
//!   activity, or the data is flushed) the next use creates a new epoch, so
//!   clients holding the old one resync instead of reading reused offsets.
//! - **Fan-out**: one pub/sub connection per node. It is subscribed to the
//!   node's own channel (`to_conn`), the control channel, and each room's
//!   channel only while this node has interest in the room. If it drops, it
//!   reconnects with backoff, resubscribes [`Local::interesting_rooms`], and
//!   fills any missed offsets from history before delivering live traffic.
//! - **Membership changes** go through a control log (a stream with
//!   gap-free offsets, never expiring) and out on the control channel with
//!   their offset, so a node that reconnects applies the ones it missed.
//! - **Presence**: per user a hash (`status`, version `v`) and a set of
//!   connection ids; per node the set of `user:conn` it registered. One
//!   script changes them and bumps the version. Each node refreshes a
//!   liveness key with a TTL; every node's reaper removes the connections of
//!   nodes whose key expired (see [`RedisEngine::subscribe_reaped`]).
//!
//! # Layout
//! - `keys`: key and channel names.
//! - `scripts`: the Lua scripts.
//! - `subscriber`: the pub/sub connection and delivery.
//! - `control`: the control log.
//! - `liveness`: heartbeat, reaper and presence.

mod control;
mod keys;
mod liveness;
mod scripts;
mod subscriber;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chinwag_protocol::model::UserRole;
use chinwag_protocol::stream::ResyncReason;
use chinwag_protocol::{Event, EventClass, Id, StreamPos};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::engine::broker::{
    BrokerOptions, EncodedEvent, REAPED_CAPACITY, Reaped, conn_payload, engine_err, new_epoch,
    role_byte, room_payload,
};
use crate::engine::control_log::ControlCursor;
use crate::engine::{
    ControlMsg, ControlSender, Engine, HistoryConfig, PresenceOp, PresenceSnapshot, Publication,
    Replay,
};
use crate::local::Local;
use crate::{ConnId, HubError, RoomId};

use keys::Keys;

/// How long one Redis command, or one connection attempt, may take.
const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The longest wait between two reconnect attempts of the command
/// connection.
const RECONNECT_MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// The Redis engine. Dropping it stops its tasks without cleaning up the
/// registry (as a crash would); call [`RedisEngine::shutdown`] first to
/// leave cleanly.
pub struct RedisEngine {
    inner: Arc<Inner>,
    tasks: Vec<JoinHandle<()>>,
}

pub(crate) struct Inner {
    local: Arc<Local>,
    control: ControlSender,
    opts: BrokerOptions,
    keys: Keys,
    client: redis::Client,
    conn: ConnectionManager,
    /// The live pub/sub connection's command half; `None` while
    /// reconnecting. Held across (un)subscribe calls so interest changes
    /// and resubscription never interleave.
    sink: tokio::sync::Mutex<Option<PubSubSink>>,
    /// The last position delivered per interesting room.
    cursors: Mutex<HashMap<RoomId, StreamPos>>,
    /// The last control message applied.
    control_log: ControlCursor,
    reaped: broadcast::Sender<Reaped>,
    room_messages: AtomicU64,
}

impl RedisEngine {
    /// Connects with default [`BrokerOptions`] for this prefix and history.
    pub async fn connect(
        url: &str,
        local: Arc<Local>,
        control: ControlSender,
        history: HistoryConfig,
        key_prefix: &str,
    ) -> Result<RedisEngine, HubError> {
        Self::connect_with(url, local, control, BrokerOptions::new(key_prefix, history)).await
    }

    /// Connects to Redis at `url`, subscribes this node's channels and
    /// starts the subscriber, heartbeat and reaper tasks. Fails if Redis
    /// cannot be reached.
    pub async fn connect_with(
        url: &str,
        local: Arc<Local>,
        control: ControlSender,
        opts: BrokerOptions,
    ) -> Result<RedisEngine, HubError> {
        opts.validate()?;
        let client = redis::Client::open(url).map_err(|e| engine_err("redis url", e))?;
        // Bounded: with Redis gone, a command fails after the timeout
        // instead of holding its caller (a REST write, a join) forever. A
        // reconnect waits at most RECONNECT_MAX_DELAY between attempts:
        // with the library's growing waits, a node stayed hung for about
        // 110 s after a 10 s outage had ended (an audit).
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(COMMAND_TIMEOUT)
            .set_response_timeout(COMMAND_TIMEOUT)
            .set_max_delay(RECONNECT_MAX_DELAY.as_millis() as u64);
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| engine_err("redis connect", e))?;
        let inner = Arc::new(Inner {
            local,
            control,
            keys: Keys::new(&opts.prefix),
            opts,
            client,
            conn,
            sink: tokio::sync::Mutex::new(None),
            cursors: Mutex::default(),
            control_log: ControlCursor::default(),
            reaped: broadcast::channel(REAPED_CAPACITY).0,
            room_messages: AtomicU64::new(0),
        });
        inner.control_log.start(control::head(&inner).await?);
        let stream = subscriber::connect(&inner).await?;
        liveness::beat(&inner).await?;
        let tasks = vec![
            tokio::spawn(subscriber::run(inner.clone(), stream)),
            tokio::spawn(liveness::run(inner.clone())),
        ];
        Ok(RedisEngine { inner, tasks })
    }

    /// Connections removed from the registry because their node died, as
    /// this node's reaper removes them. The hub side should check each
    /// user's presence and publish `USER_OFFLINE` when no connection is
    /// left.
    pub fn subscribe_reaped(&self) -> broadcast::Receiver<Reaped> {
        self.inner.reaped.subscribe()
    }

    /// Room messages this node has received from Redis (a measure of which
    /// rooms it is subscribed to).
    pub fn room_messages_received(&self) -> u64 {
        self.inner.room_messages.load(Ordering::Relaxed)
    }

    /// The pub/sub channel carrying a room's traffic.
    pub fn room_channel(&self, room: &RoomId) -> String {
        self.inner.keys.room_channel(room)
    }

    /// The stream holding the recent membership changes (the control log).
    pub fn control_log_key(&self) -> String {
        self.inner.keys.control_log()
    }

    /// Leaves the cluster cleanly: stops the tasks and removes this node's
    /// connections from the presence registry at once (instead of after the
    /// liveness TTL). Returns what was removed.
    pub async fn shutdown(&mut self) -> Result<Vec<Reaped>, HubError> {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        let tag = self.inner.local.node().tag();
        let mut conn = self.inner.conn.clone();
        redis::cmd("DEL")
            .arg(self.inner.keys.alive(tag))
            .exec_async(&mut conn)
            .await
            .map_err(|e| engine_err("redis shutdown", e))?;
        liveness::reap(&self.inner, tag).await
    }
}

impl std::fmt::Debug for RedisEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEngine")
            .field("node", self.inner.local.node())
            .field("prefix", &self.inner.opts.prefix)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisEngine {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Inner {
    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn meta_ttl_secs(&self) -> u64 {
        self.opts.idle_stream_ttl.as_secs().max(1)
    }

    fn max_age_ms(&self) -> u64 {
        (self.opts.history.max_age.as_millis() as u64).max(1)
    }

    /// The command that publishes `p`: the PUBLISH script (by its hash)
    /// for a durable event, a plain `PUBLISH` for an ephemeral one. The
    /// flag says which.
    fn publish_cmd(&self, p: Publication) -> Result<(redis::Cmd, bool), HubError> {
        let durable = p.event.class() == EventClass::Durable;
        let channel = self.keys.room_channel(&p.room);
        let encoded = EncodedEvent::new(&p.room, p.event)?;
        let mut cmd;
        if durable {
            cmd = redis::cmd("EVALSHA");
            cmd.arg(scripts::PUBLISH.get_hash())
                .arg(2)
                .arg(self.keys.meta(&p.room))
                .arg(self.keys.log(&p.room))
                .arg(new_epoch())
                .arg(channel)
                .arg(&encoded.head)
                .arg(&encoded.tail)
                .arg(&[role_byte(p.only_role)][..])
                .arg(self.opts.history.max_len.max(1))
                .arg(self.max_age_ms())
                .arg(self.meta_ttl_secs());
        } else {
            cmd = redis::cmd("PUBLISH");
            cmd.arg(channel)
                .arg(room_payload(p.only_role, &encoded.plain()));
        }
        Ok((cmd, durable))
    }

    /// Sends publish commands (each flagged durable or not) as one
    /// pipeline and returns one result per command.
    ///
    /// If Redis lost the script (a restart, a failover, `SCRIPT FLUSH`),
    /// the refused commands are a suffix of the run: the script is loaded
    /// again and they are sent once more, still in order. Should a command
    /// after a refused one have run (another client loaded the script in
    /// between), the refused ones fail instead: sending them again would
    /// put them out of order.
    async fn send_run(
        &self,
        commands: Vec<(redis::Cmd, bool)>,
    ) -> Vec<Result<Option<StreamPos>, HubError>> {
        use redis::aio::ConnectionLike;
        let mut results = vec![Ok(None); commands.len()];
        // `slots[k]`: the result index and durability of the pipeline's
        // k-th command.
        let mut slots = Vec::with_capacity(commands.len());
        let mut pipe = redis::pipe();
        for (i, (cmd, durable)) in commands.into_iter().enumerate() {
            pipe.add_command(cmd);
            slots.push((i, durable));
        }
        let mut conn = self.conn();
        let mut reloaded = false;
        while !slots.is_empty() {
            let replies = match conn.req_packed_commands(&pipe, 0, slots.len()).await {
                Ok(replies) => replies,
                Err(err) => {
                    let err = engine_err("redis publish", err);
                    for &(i, _) in &slots {
                        results[i] = Err(err.clone());
                    }
                    break;
                }
            };
            let mut refused = Vec::new();
            let mut ran_after_refusal = false;
            for (k, (&(i, durable), reply)) in slots.iter().zip(replies).enumerate() {
                if matches!(&reply, redis::Value::ServerError(e) if e.code() == "NOSCRIPT") {
                    refused.push(k);
                    continue;
                }
                ran_after_refusal |= durable && !refused.is_empty();
                results[i] = publish_reply(reply, durable);
            }
            if refused.is_empty() {
                break;
            }
            let reload = if reloaded || ran_after_refusal {
                Err(HubError::Engine(
                    "redis publish: the script was missing; not resent out of order".into(),
                ))
            } else {
                scripts::PUBLISH
                    .load_async(&mut conn)
                    .await
                    .map_err(|e| engine_err("redis script load", e))
            };
            if let Err(err) = reload {
                for &k in &refused {
                    results[slots[k].0] = Err(err.clone());
                }
                break;
            }
            tracing::info!(
                count = refused.len(),
                "redis lost the publish script; loaded it again"
            );
            let sent: Vec<&redis::Cmd> = pipe.cmd_iter().collect();
            let mut again = redis::pipe();
            for &k in &refused {
                again.add_command(sent[k].clone());
            }
            slots = refused.iter().map(|&k| slots[k]).collect();
            pipe = again;
            reloaded = true;
        }
        results
    }

    pub(crate) async fn head(&self, room: &RoomId) -> Result<StreamPos, HubError> {
        let mut conn = self.conn();
        let (epoch, offset): (String, u64) = scripts::HEAD
            .key(self.keys.meta(room))
            .key(self.keys.log(room))
            .arg(new_epoch())
            .arg(self.meta_ttl_secs())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| engine_err("redis head", e))?;
        Ok(StreamPos { epoch, offset })
    }

    pub(crate) async fn replay(
        &self,
        room: &RoomId,
        since: &StreamPos,
    ) -> Result<Replay, HubError> {
        let mut conn = self.conn();
        let out: Vec<Option<String>> = scripts::REPLAY
            .key(self.keys.meta(room))
            .key(self.keys.log(room))
            .arg(new_epoch())
            .arg(&since.epoch)
            .arg(since.offset)
            .arg(self.max_age_ms())
            .arg(self.meta_ttl_secs())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| engine_err("redis replay", e))?;
        let field = |i: usize| out.get(i).cloned().flatten().unwrap_or_default();
        let epoch = field(0);
        let number = |i: usize| {
            field(i)
                .parse::<u64>()
                .map_err(|e| engine_err("redis replay reply", e))
        };
        let (head, first) = (number(1)?, number(2)?);
        let head_pos = StreamPos {
            epoch: epoch.clone(),
            offset: head,
        };
        if since.epoch != epoch || since.offset > head {
            return Ok(Replay::Resync {
                reason: ResyncReason::EpochChanged,
                head: head_pos,
            });
        }
        if since.offset + 1 < first {
            return Ok(Replay::Resync {
                reason: ResyncReason::HistoryTruncated,
                head: head_pos,
            });
        }
        let mut events = Vec::with_capacity(out.len().saturating_sub(3) / 2);
        for pair in out[3..].chunks(2) {
            let json = pair[0].clone().unwrap_or_default();
            let role = pair.get(1).cloned().flatten().unwrap_or_default();
            let mut payload = role.into_bytes();
            payload.extend_from_slice(json.as_bytes());
            let frame = crate::engine::broker::decode_room_payload(Bytes::from(payload))?;
            events.push(Arc::new(frame));
        }
        Ok(Replay::Events(events))
    }
}

/// A publish command's reply: `{epoch, offset}` for a durable event.
fn publish_reply(reply: redis::Value, durable: bool) -> Result<Option<StreamPos>, HubError> {
    let reply = reply
        .extract_error()
        .map_err(|e| engine_err("redis publish", e))?;
    if !durable {
        return Ok(None);
    }
    let (epoch, offset): (String, u64) =
        redis::from_owned_redis_value(reply).map_err(|e| engine_err("redis publish reply", e))?;
    Ok(Some(StreamPos { epoch, offset }))
}

impl Engine for RedisEngine {
    async fn publish(
        &self,
        room: &RoomId,
        event: Event,
        only_role: Option<UserRole>,
    ) -> Result<Option<StreamPos>, HubError> {
        let run = vec![Publication {
            room: room.clone(),
            event,
            only_role,
        }];
        let mut results = self.publish_many(run).await;
        results.pop().unwrap_or(Ok(None))
    }

    /// The run goes out as one pipeline: one round trip however long it
    /// is. Redis runs a connection's commands in the order sent, so the
    /// run's events take offsets in order.
    async fn publish_many(
        &self,
        run: Vec<Publication>,
    ) -> Vec<Result<Option<StreamPos>, HubError>> {
        let inner = &self.inner;
        let mut results = Vec::with_capacity(run.len());
        let mut commands = Vec::with_capacity(run.len());
        let mut at = Vec::with_capacity(run.len());
        for p in run {
            match inner.publish_cmd(p) {
                Ok(command) => {
                    at.push(results.len());
                    commands.push(command);
                    results.push(Ok(None));
                }
                Err(err) => results.push(Err(err)),
            }
        }
        for (i, result) in at.into_iter().zip(inner.send_run(commands).await) {
            results[i] = result;
        }
        results
    }

    async fn head(&self, room: &RoomId) -> Result<StreamPos, HubError> {
        self.inner.head(room).await
    }

    async fn replay(&self, room: &RoomId, since: &StreamPos) -> Result<Replay, HubError> {
        self.inner.replay(room, since).await
    }

    async fn set_interest(&self, room: &RoomId, interested: bool) -> Result<(), HubError> {
        subscriber::set_interest(&self.inner, room, interested).await
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
        let mut redis = inner.conn();
        let receivers: u64 = redis::cmd("PUBLISH")
            .arg(inner.keys.node_channel(conn.node_tag()))
            .arg(conn_payload(conn, &json))
            .query_async(&mut redis)
            .await
            .map_err(|e| engine_err("redis publish", e))?;
        // No subscriber: no live node has that tag.
        if receivers == 0 {
            return Err(HubError::UnknownConn);
        }
        Ok(())
    }

    async fn control(&self, msg: ControlMsg) -> Result<(), HubError> {
        control::publish(&self.inner, &msg).await
    }

    async fn presence(&self, user: Id, op: PresenceOp) -> Result<PresenceSnapshot, HubError> {
        liveness::presence(&self.inner, user, op).await
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
