//! The presence registry, node liveness and the reaper.
//!
//! Each node refreshes `alive:{tag}` (TTL [`BrokerOptions::node_ttl`]) every
//! heartbeat and then checks the other registered nodes; for each whose key
//! expired it runs the reap script, which removes that node's connections
//! atomically (bumping each user's version) and reports them. The script
//! removes each connection once, so exactly one node reports it. A dead
//! node's connections are gone within `node_ttl + heartbeat`. The script
//! also marks the node (`reaped:{tag}`), so a node that was only cut off
//! learns at its next heartbeat that its connections were reaped.
//!
//! [`BrokerOptions::node_ttl`]: crate::engine::broker::BrokerOptions::node_ttl

use std::sync::Arc;

use chinwag_protocol::Id;
use chinwag_protocol::model::PresenceStatus;

use super::{Inner, Keys, scripts};
use crate::engine::broker::{REAPED_MARK_TTL, Reaped, engine_err, liveness_loop};
use crate::engine::{PresenceOp, PresenceSnapshot};
use crate::{ConnId, HubError};

/// Applies a presence operation atomically.
pub(super) async fn presence(
    inner: &Inner,
    user: Id,
    op: PresenceOp,
) -> Result<PresenceSnapshot, HubError> {
    let (name, arg, tag, member) = match op {
        PresenceOp::Add(conn) => ("add", conn.to_string(), conn.node_tag(), Some(conn)),
        PresenceOp::Remove(conn) => ("remove", conn.to_string(), conn.node_tag(), Some(conn)),
        PresenceOp::SetStatus(status) => ("status", status_name(status)?, 0, None),
        PresenceOp::Read => ("read", String::new(), 0, None),
        PresenceOp::Peek => ("peek", String::new(), 0, None),
    };
    let mut conn = inner.conn();
    let (connections, status, version): (usize, String, i64) = scripts::PRESENCE
        .key(inner.keys.presence(user))
        .key(inner.keys.presence_conns(user))
        .key(inner.keys.node_conns(tag))
        .key(inner.keys.nodes())
        .arg(name)
        .arg(arg)
        .arg(
            member
                .map(|c| Keys::node_member(user, c))
                .unwrap_or_default(),
        )
        .arg(tag)
        .invoke_async(&mut conn)
        .await
        .map_err(|e| engine_err("redis presence", e))?;
    Ok(PresenceSnapshot {
        connections,
        status: parse_status(&status),
        version,
    })
}

/// Refreshes this node's liveness key; whether other nodes had reaped its
/// connections (found by the mark the reap script leaves). Once the key is
/// set no reap can run, so the mark is read after it.
pub(super) async fn beat(inner: &Inner) -> Result<bool, HubError> {
    let tag = inner.local.node().tag();
    let mut conn = inner.conn();
    let (mark,): (Option<String>,) = redis::pipe()
        .cmd("SET")
        .arg(inner.keys.alive(tag))
        .arg(inner.local.node().name())
        .arg("PX")
        .arg(inner.opts.node_ttl.as_millis() as u64)
        .ignore()
        .cmd("SADD")
        .arg(inner.keys.nodes())
        .arg(tag)
        .ignore()
        .cmd("GET")
        .arg(inner.keys.reaped(tag))
        .query_async(&mut conn)
        .await
        .map_err(|e| engine_err("redis heartbeat", e))?;
    if mark.is_none() {
        return Ok(false);
    }
    redis::cmd("DEL")
        .arg(inner.keys.reaped(tag))
        .exec_async(&mut conn)
        .await
        .map_err(|e| engine_err("redis heartbeat", e))?;
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
    let me = inner.local.node().tag();
    let mut conn = inner.conn();
    let tags: Vec<u32> = redis::cmd("SMEMBERS")
        .arg(inner.keys.nodes())
        .query_async(&mut conn)
        .await
        .map_err(|e| engine_err("redis reaper", e))?;
    let others: Vec<u32> = tags.into_iter().filter(|t| *t != me).collect();
    if others.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for tag in &others {
        pipe.cmd("EXISTS").arg(inner.keys.alive(*tag));
    }
    let alive: Vec<bool> = pipe
        .query_async(&mut conn)
        .await
        .map_err(|e| engine_err("redis reaper", e))?;
    for (tag, alive) in others.into_iter().zip(alive) {
        if !alive {
            let reaped = reap(inner, tag).await?;
            if !reaped.is_empty() {
                tracing::info!(
                    node = format!("{tag:06x}"),
                    conns = reaped.len(),
                    "reaped a dead node's connections"
                );
            }
        }
    }
    Ok(())
}

/// Removes a node's connections if its liveness key is gone, and reports
/// each removed connection on the reaped channel.
pub(super) async fn reap(inner: &Inner, tag: u32) -> Result<Vec<Reaped>, HubError> {
    let mut conn = inner.conn();
    let out: Vec<String> = scripts::REAP
        .key(inner.keys.alive(tag))
        .key(inner.keys.node_conns(tag))
        .key(inner.keys.nodes())
        .key(inner.keys.reaped(tag))
        .arg(tag)
        .arg(inner.keys.presence_prefix())
        .arg(REAPED_MARK_TTL.as_millis() as u64)
        .invoke_async(&mut conn)
        .await
        .map_err(|e| engine_err("redis reap", e))?;
    let mut reaped = Vec::with_capacity(out.len() / 5);
    for row in out.chunks_exact(5) {
        let (Ok(user), Some(conn), Ok(connections), Ok(version)) = (
            row[0].parse::<i64>(),
            ConnId::parse(&row[1]),
            row[2].parse::<usize>(),
            row[4].parse::<i64>(),
        ) else {
            tracing::warn!(?row, "bad reap row");
            continue;
        };
        let notice = Reaped {
            user: Id(user),
            conn,
            snapshot: PresenceSnapshot {
                connections,
                status: parse_status(&row[3]),
                version,
            },
        };
        let _ = inner.reaped.send(notice);
        reaped.push(notice);
    }
    Ok(reaped)
}

fn status_name(status: PresenceStatus) -> Result<String, HubError> {
    match serde_json::to_value(status).map_err(|e| engine_err("status", e))? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(HubError::Engine(format!("unexpected status {other}"))),
    }
}

fn parse_status(name: &str) -> PresenceStatus {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .unwrap_or(PresenceStatus::Online)
}
