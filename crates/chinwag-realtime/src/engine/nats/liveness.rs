//! The presence registry, node liveness and the reaper, on JetStream
//! key-value buckets.
//!
//! - `presence`: key `u{user}` → the user's connections, status and
//!   version. Every operation is a compare-and-set on the entry's revision,
//!   retried on conflict, so the version bump is atomic with the change.
//! - `nodeconns`: key = node tag → the `(user, conn)` pairs the node
//!   registered. A connection is indexed before it is added to its user and
//!   unindexed after it is removed, so the index never misses one.
//! - `alive`: key = node tag, refreshed every heartbeat; the bucket's
//!   `max_age` is the node TTL, so a dead node's entry vanishes.
//! - `reaped`: key = node tag, put by a reaper that found any of that
//!   node's connections indexed; entries expire after a day.
//!
//! Each heartbeat, every node reaps the indexed nodes with no liveness
//! entry. Removing a connection is itself a compare-and-set, so each one is
//! removed, and reported, by exactly one reaper. A node that was only cut
//! off finds its `reaped` entry at a heartbeat after it is back: the next
//! one, or the one after if a reap that checked its liveness before the
//! node was back finished after.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use async_nats::jetstream::{self, stream};
use chinwag_protocol::Id;
use chinwag_protocol::model::PresenceStatus;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Inner, Names};
use crate::engine::broker::{Reaped, engine_err, liveness_loop};
use crate::engine::{PresenceOp, PresenceSnapshot};
use crate::{ConnId, HubError};

/// Compare-and-set attempts before giving up.
const MAX_ATTEMPTS: usize = 200;

#[derive(Debug, Serialize, Deserialize)]
struct UserEntry {
    conns: Vec<ConnHex>,
    status: PresenceStatus,
    version: i64,
}

impl Default for UserEntry {
    fn default() -> Self {
        UserEntry {
            conns: Vec::new(),
            status: PresenceStatus::Online,
            version: 0,
        }
    }
}

impl UserEntry {
    fn snapshot(&self) -> PresenceSnapshot {
        PresenceSnapshot {
            connections: self.conns.len(),
            status: self.status,
            version: self.version,
        }
    }
}

/// A connection id as its hex string.
type ConnHex = String;

/// Opens a bucket, creating it if needed (`ttl` bounds every entry's life).
/// The bucket's stream is created directly, as `create_key_value` would,
/// because that call also queries account limits, which servers before 2.10
/// answer in a shape this client rejects.
pub(super) async fn ensure_bucket(
    js: &jetstream::Context,
    bucket: String,
    ttl: Option<Duration>,
) -> Result<kv::Store, HubError> {
    if let Ok(store) = js.get_key_value(&bucket).await {
        return Ok(store);
    }
    js.get_or_create_stream(stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age: ttl.unwrap_or_default(),
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    })
    .await
    .map_err(|e| engine_err("nats bucket", e))?;
    js.get_key_value(&bucket)
        .await
        .map_err(|e| engine_err("nats bucket", e))
}

/// Reads `key`, lets `change` modify it, and writes it back if `change`
/// returned `Some`, retrying on conflict. Returns what `change` returned.
async fn cas<T, R>(
    store: &kv::Store,
    key: &str,
    mut change: impl FnMut(&mut T) -> Option<R>,
) -> Result<Option<R>, HubError>
where
    T: Serialize + DeserializeOwned + Default,
{
    for _ in 0..MAX_ATTEMPTS {
        let entry = store
            .entry(key)
            .await
            .map_err(|e| engine_err("nats kv read", e))?;
        let (mut value, revision) = match entry {
            Some(e) if e.operation == Operation::Put => (
                serde_json::from_slice(&e.value).map_err(|e| engine_err("nats kv decode", e))?,
                Some(e.revision),
            ),
            Some(e) => (T::default(), Some(e.revision)),
            None => (T::default(), None),
        };
        let Some(result) = change(&mut value) else {
            return Ok(None);
        };
        let bytes = serde_json::to_vec(&value)
            .map_err(|e| engine_err("nats kv encode", e))?
            .into();
        let conflict = match revision {
            Some(rev) => match store.update(key, bytes, rev).await {
                Ok(_) => false,
                Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => true,
                Err(e) => return Err(engine_err("nats kv write", e)),
            },
            None => match store.create(key, bytes).await {
                Ok(_) => false,
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => true,
                Err(e) => return Err(engine_err("nats kv write", e)),
            },
        };
        if !conflict {
            return Ok(Some(result));
        }
    }
    Err(HubError::Engine(format!(
        "nats kv {key}: too much contention"
    )))
}

fn user_key(user: Id) -> String {
    format!("u{user}")
}

/// Applies a presence operation.
pub(super) async fn presence(
    inner: &Inner,
    user: Id,
    op: PresenceOp,
) -> Result<PresenceSnapshot, HubError> {
    if let PresenceOp::Peek = op {
        return peek(inner, user).await;
    }
    if let PresenceOp::Add(conn) = op {
        index(inner, user, conn, true).await?;
    }
    let snap = cas(&inner.presence, &user_key(user), |e: &mut UserEntry| {
        match op {
            PresenceOp::Add(conn) => {
                let hex = conn.to_string();
                if !e.conns.contains(&hex) {
                    e.conns.push(hex);
                }
            }
            PresenceOp::Remove(conn) => e.conns.retain(|c| *c != conn.to_string()),
            PresenceOp::SetStatus(status) => e.status = status,
            PresenceOp::Read | PresenceOp::Peek => {}
        }
        e.version += 1;
        Some(e.snapshot())
    })
    .await?
    .unwrap_or_default_snapshot();
    if let PresenceOp::Remove(conn) = op {
        index(inner, user, conn, false).await?;
    }
    Ok(snap)
}

/// The user's registry entry as it is, written to by nobody.
async fn peek(inner: &Inner, user: Id) -> Result<PresenceSnapshot, HubError> {
    let entry = inner
        .presence
        .get(user_key(user))
        .await
        .map_err(|e| engine_err("nats kv read", e))?;
    let entry: UserEntry = match entry {
        Some(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| engine_err("nats kv decode", e))?
        }
        None => UserEntry::default(),
    };
    Ok(entry.snapshot())
}

trait OrDefault {
    fn unwrap_or_default_snapshot(self) -> PresenceSnapshot;
}

impl OrDefault for Option<PresenceSnapshot> {
    fn unwrap_or_default_snapshot(self) -> PresenceSnapshot {
        self.unwrap_or(PresenceSnapshot {
            connections: 0,
            status: PresenceStatus::Online,
            version: 0,
        })
    }
}

/// Adds a connection to (or removes it from) its node's index.
async fn index(inner: &Inner, user: Id, conn: ConnId, add: bool) -> Result<(), HubError> {
    let key = Names::node_key(conn.node_tag());
    let pair = (user, conn.to_string());
    cas(&inner.node_conns, &key, |list: &mut Vec<(Id, ConnHex)>| {
        let present = list.contains(&pair);
        match (add, present) {
            (true, false) => list.push(pair.clone()),
            (false, true) => list.retain(|p| *p != pair),
            _ => return None,
        }
        Some(())
    })
    .await?;
    Ok(())
}

/// Refreshes this node's liveness entry; whether other nodes had reaped its
/// connections (and left their mark).
pub(super) async fn beat(inner: &Inner) -> Result<bool, HubError> {
    let me = Names::node_key(inner.local.node().tag());
    inner
        .alive
        .put(&me, inner.local.node().name().to_string().into())
        .await
        .map_err(|e| engine_err("nats heartbeat", e))?;
    let mark = inner
        .reaped_marks
        .get(&me)
        .await
        .map_err(|e| engine_err("nats heartbeat", e))?;
    if mark.is_none() {
        return Ok(false);
    }
    inner
        .reaped_marks
        .delete(&me)
        .await
        .map_err(|e| engine_err("nats heartbeat", e))?;
    Ok(true)
}

/// Heartbeat and reaper loop.
pub(super) async fn run(inner: Arc<Inner>) {
    liveness_loop(
        inner.opts.heartbeat,
        inner.opts.node_ttl,
        &inner.control,
        || beat(&inner),
        || reap_dead(&inner),
    )
    .await
}

async fn reap_dead(inner: &Inner) -> Result<(), HubError> {
    let me = Names::node_key(inner.local.node().tag());
    let mut keys = inner
        .node_conns
        .keys()
        .await
        .map_err(|e| engine_err("nats reaper", e))?;
    let mut nodes = Vec::new();
    while let Some(key) = keys.next().await {
        nodes.push(key.map_err(|e| engine_err("nats reaper", e))?);
    }
    for node in nodes.into_iter().filter(|n| *n != me) {
        let alive = inner
            .alive
            .get(&node)
            .await
            .map_err(|e| engine_err("nats reaper", e))?;
        if alive.is_none() {
            let reaped = reap(inner, &node).await?;
            if !reaped.is_empty() {
                tracing::info!(%node, conns = reaped.len(), "reaped a dead node's connections");
            }
        }
    }
    Ok(())
}

/// Removes every connection indexed under node `key` from the registry and
/// reports those this call removed.
pub(super) async fn reap(inner: &Inner, key: &str) -> Result<Vec<Reaped>, HubError> {
    let Some(bytes) = inner
        .node_conns
        .get(key)
        .await
        .map_err(|e| engine_err("nats reap", e))?
    else {
        return Ok(Vec::new());
    };
    let list: Vec<(Id, ConnHex)> =
        serde_json::from_slice(&bytes).map_err(|e| engine_err("nats reap", e))?;
    let list_was_empty = list.is_empty();
    let mut reaped = Vec::new();
    for (user, hex) in list {
        let Some(conn) = ConnId::parse(&hex) else {
            continue;
        };
        let removed = cas(&inner.presence, &user_key(user), |e: &mut UserEntry| {
            let before = e.conns.len();
            e.conns.retain(|c| *c != hex);
            if e.conns.len() == before {
                return None;
            }
            e.version += 1;
            Some(e.snapshot())
        })
        .await?;
        if let Some(snapshot) = removed {
            let notice = Reaped {
                user,
                conn,
                snapshot,
            };
            let _ = inner.reaped.send(notice);
            reaped.push(notice);
        }
    }
    inner
        .node_conns
        .delete(key)
        .await
        .map_err(|e| engine_err("nats reap", e))?;
    // Marked whenever the node had connections indexed, not only when this
    // call removed some: a reap given up half-way (see `liveness_loop`)
    // may have removed them, and the node must still learn of it.
    if !list_was_empty {
        inner
            .reaped_marks
            .put(key, "1".into())
            .await
            .map_err(|e| engine_err("nats reap", e))?;
    }
    Ok(reaped)
}
