//! What the broker engines (Redis, NATS) share: the options they take, the
//! bytes they put on the wire between nodes, the per-room delivery cursor
//! that keeps fan-out in offset order across reconnects, the notice a
//! node's reaper emits when it removes a dead node's connections, and the
//! heartbeat loop (`liveness_loop`).
//!
//! # The wire payload
//! A room event travels as one byte naming the role it is restricted to
//! (`a` = everyone, `u` = users, `b` = bots) followed by the encoded
//! `ServerFrame::Event` JSON, so a receiving node hands the very same bytes
//! to its connections ([`SharedFrame::with_json`]). The JSON is encoded once
//! per publish without its stream position and split in two
//! (`EncodedEvent`); the engine splices `"epoch":…,"offset":…` in once the
//! offset is known (inside the Redis script, or before the JetStream
//! publish), which yields exactly what `serde_json` would have produced.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chinwag_protocol::model::UserRole;
use chinwag_protocol::server::EventFrame;
use chinwag_protocol::{Event, Id, ServerFrame, StreamPos};
use serde::{Deserialize, Serialize};

use crate::engine::{ControlMsg, HistoryConfig, MembershipChange, PresenceSnapshot};
use crate::{ConnId, HubError, RoomId, SharedFrame};

/// Options shared by the broker engines.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// Prefix of every key, channel, subject, stream and bucket the engine
    /// uses, so several clusters (or tests) can share one broker. Letters,
    /// digits, `-` and `_` only.
    pub prefix: String,
    /// Room history bounds.
    pub history: HistoryConfig,
    /// How often this node refreshes its liveness key and runs the reaper.
    /// Default 2 s.
    pub heartbeat: Duration,
    /// How long a node's liveness key lives without a refresh. A node that
    /// stops refreshing is dead after this, and its connections are removed
    /// from the presence registry within one more `heartbeat`. Default 6 s.
    pub node_ttl: Duration,
    /// How long a room's stream metadata (its epoch and head) survives
    /// without any activity. When it expires the room starts a new epoch
    /// and clients holding the old one resync. Default 7 days.
    pub idle_stream_ttl: Duration,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            prefix: "chinwag".into(),
            history: HistoryConfig::default(),
            heartbeat: Duration::from_secs(2),
            node_ttl: Duration::from_secs(6),
            idle_stream_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl BrokerOptions {
    /// Defaults with this prefix and history.
    pub fn new(prefix: &str, history: HistoryConfig) -> BrokerOptions {
        BrokerOptions {
            prefix: prefix.to_string(),
            history,
            ..BrokerOptions::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), HubError> {
        let ok = !self.prefix.is_empty()
            && self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(HubError::Engine(format!(
                "invalid broker prefix `{}`: use letters, digits, - and _",
                self.prefix
            )));
        }
        if self.node_ttl <= self.heartbeat {
            return Err(HubError::Engine(
                "node_ttl must be longer than heartbeat".into(),
            ));
        }
        Ok(())
    }
}

/// A connection removed from the presence registry because its node died.
/// Only the node whose reaper actually removed it reports it, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    /// The connection's user.
    pub user: Id,
    /// The connection.
    pub conn: ConnId,
    /// The user's registry state right after the removal.
    pub snapshot: PresenceSnapshot,
}

/// Capacity of the reaped-connection notice channel.
pub(crate) const REAPED_CAPACITY: usize = 1024;

/// How long the mark lasts that a reaper leaves on a node whose
/// connections it removed. The node, if it was only cut off, finds the
/// mark at its next heartbeat; marks of nodes that really died expire.
pub(crate) const REAPED_MARK_TTL: Duration = Duration::from_secs(24 * 3600);

/// A node's heartbeat and reaper, every `heartbeat`: `beat` refreshes the
/// node's liveness and says whether other nodes reaped its connections
/// meanwhile (it was cut off for longer than the node TTL); `reap` removes
/// dead nodes' connections. A reaped node's users went offline everywhere
/// (and out of voice), though their connections are still here: every
/// local connection then reconnects ([`ControlMsg::Lost`]), which puts
/// them back in the registry, online.
///
/// Each beat and each reap may take at most `limit` (the node TTL): one
/// stuck on a connection the broker client lost (a key listing, say) is
/// given up and tried again at the next tick, so the node's heartbeat
/// resumes as soon as the broker is back.
pub(crate) async fn liveness_loop<B, R>(
    heartbeat: Duration,
    limit: Duration,
    control: &crate::engine::ControlSender,
    mut beat: impl FnMut() -> B,
    mut reap: impl FnMut() -> R,
) where
    B: Future<Output = Result<bool, HubError>>,
    R: Future<Output = Result<(), HubError>>,
{
    let mut tick = tokio::time::interval(heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let beaten = tokio::time::timeout(limit, beat())
            .await
            .unwrap_or_else(|_| Err(HubError::Engine("heartbeat timed out".into())));
        match beaten {
            Ok(false) => {}
            Ok(true) => {
                tracing::error!(
                    "other nodes took this node for dead and reaped its connections; \
                     every local connection reconnects"
                );
                let _ = control.send(ControlMsg::Lost);
            }
            Err(err) => {
                tracing::warn!(%err, "heartbeat failed");
                continue;
            }
        }
        match tokio::time::timeout(limit, reap()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(%err, "reaper failed"),
            Err(_) => tracing::warn!("reaper timed out"),
        }
    }
}

/// Maps an engine's failure to [`HubError::Engine`].
pub(crate) fn engine_err(what: &str, err: impl std::fmt::Display) -> HubError {
    HubError::Engine(format!("{what}: {err}"))
}

/// The role byte that opens a room payload.
pub(crate) fn role_byte(role: Option<UserRole>) -> u8 {
    match role {
        None => b'a',
        Some(UserRole::User) => b'u',
        Some(UserRole::Bot) => b'b',
    }
}

fn role_of(byte: u8) -> Option<Option<UserRole>> {
    match byte {
        b'a' => Some(None),
        b'u' => Some(Some(UserRole::User)),
        b'b' => Some(Some(UserRole::Bot)),
        _ => None,
    }
}

/// An event frame encoded once, without its stream position: the full JSON
/// is `head` + position fields + `tail`.
#[derive(Debug, Clone)]
pub(crate) struct EncodedEvent {
    /// `{"op":"event","room":"…",`
    pub head: String,
    /// `"type":…,"data":…}`
    pub tail: String,
}

impl EncodedEvent {
    /// Encodes `event` for `room`.
    pub fn new(room: &RoomId, event: Event) -> Result<EncodedEvent, HubError> {
        let frame = ServerFrame::Event(EventFrame {
            room: room.to_string(),
            epoch: None,
            offset: None,
            event,
        });
        let json = serde_json::to_string(&frame).map_err(|e| engine_err("encode event", e))?;
        let head = format!(
            "{{\"op\":\"event\",\"room\":{},",
            serde_json::to_string(room.as_str()).map_err(|e| engine_err("encode room", e))?
        );
        let tail = json
            .strip_prefix(head.as_str())
            .ok_or_else(|| HubError::Engine("unexpected event frame layout".into()))?
            .to_string();
        Ok(EncodedEvent { head, tail })
    }

    /// The JSON's length without a position.
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// The JSON without a position (ephemeral events).
    pub fn plain(&self) -> String {
        format!("{}{}", self.head, self.tail)
    }

    /// The JSON with `pos` spliced in.
    pub fn at(&self, pos: &StreamPos) -> String {
        format!(
            "{}{}{}",
            self.head,
            position_fields(&pos.epoch, pos.offset),
            self.tail
        )
    }
}

/// `"epoch":"…","offset":N,` (epochs are hex, so need no escaping).
pub(crate) fn position_fields(epoch: &str, offset: u64) -> String {
    format!("\"epoch\":\"{epoch}\",\"offset\":{offset},")
}

/// A role byte followed by `json`.
pub(crate) fn room_payload(role: Option<UserRole>, json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 1);
    out.push(role_byte(role));
    out.extend_from_slice(json.as_bytes());
    out
}

/// Decodes a room payload (role byte + event frame JSON) into a frame that
/// reuses the JSON bytes.
pub(crate) fn decode_room_payload(payload: Bytes) -> Result<SharedFrame, HubError> {
    let role = payload
        .first()
        .and_then(|b| role_of(*b))
        .ok_or_else(|| HubError::Engine("room payload without a role byte".into()))?;
    let json = payload.slice(1..);
    decode_frame(json, role)
}

/// Decodes event frame JSON into a frame that reuses the bytes.
pub(crate) fn decode_frame(json: Bytes, role: Option<UserRole>) -> Result<SharedFrame, HubError> {
    let frame: ServerFrame =
        serde_json::from_slice(&json).map_err(|e| engine_err("decode event", e))?;
    let ServerFrame::Event(ef) = frame else {
        return Err(HubError::Engine("payload is not an event frame".into()));
    };
    let room = RoomId::parse(&ef.room)?;
    let pos = match (ef.epoch, ef.offset) {
        (Some(epoch), Some(offset)) => Some(StreamPos { epoch, offset }),
        _ => None,
    };
    Ok(SharedFrame::new(room, pos, ef.event, role).with_json(json))
}

/// A `to_conn` payload: the connection id (16 hex digits) then the event
/// frame JSON.
pub(crate) fn conn_payload(conn: ConnId, json: &str) -> Vec<u8> {
    format!("{conn}{json}").into_bytes()
}

/// Decodes a `to_conn` payload.
pub(crate) fn decode_conn_payload(payload: Bytes) -> Result<(ConnId, SharedFrame), HubError> {
    let conn = payload
        .get(..16)
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(ConnId::parse)
        .ok_or_else(|| HubError::Engine("to_conn payload without a connection id".into()))?;
    Ok((conn, decode_frame(payload.slice(16..), None)?))
}

/// [`ControlMsg`] as it travels between nodes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum WireControl {
    Join {
        user: Id,
        room: String,
    },
    Leave {
        user: Id,
        room: String,
        reason: String,
    },
    Reauth {
        user: Id,
        reason: String,
    },
    Revoke {
        user: Id,
        session: Option<Id>,
    },
}

impl WireControl {
    pub fn encode(msg: &ControlMsg) -> Result<Vec<u8>, HubError> {
        let wire = match msg {
            ControlMsg::Membership { user, room, change } => match change {
                MembershipChange::Join => WireControl::Join {
                    user: *user,
                    room: room.to_string(),
                },
                MembershipChange::Leave(reason) => WireControl::Leave {
                    user: *user,
                    room: room.to_string(),
                    reason: reason.clone(),
                },
            },
            ControlMsg::ReauthRequired { user, reason } => WireControl::Reauth {
                user: *user,
                reason: reason.clone(),
            },
            ControlMsg::SessionRevoked { user, session } => WireControl::Revoke {
                user: *user,
                session: *session,
            },
            ControlMsg::Lost => {
                return Err(HubError::Engine("a lost-control notice is local".into()));
            }
        };
        serde_json::to_vec(&wire).map_err(|e| engine_err("encode control", e))
    }

    pub fn decode(bytes: &[u8]) -> Result<ControlMsg, HubError> {
        let wire: WireControl =
            serde_json::from_slice(bytes).map_err(|e| engine_err("decode control", e))?;
        Ok(match wire {
            WireControl::Join { user, room } => ControlMsg::Membership {
                user,
                room: RoomId::parse(&room)?,
                change: MembershipChange::Join,
            },
            WireControl::Leave { user, room, reason } => ControlMsg::Membership {
                user,
                room: RoomId::parse(&room)?,
                change: MembershipChange::Leave(reason),
            },
            WireControl::Reauth { user, reason } => ControlMsg::ReauthRequired { user, reason },
            WireControl::Revoke { user, session } => ControlMsg::SessionRevoked { user, session },
        })
    }
}

/// A fresh random epoch.
pub(crate) fn new_epoch() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// What to do with a live durable event, given the room's delivery cursor.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The next one (or the first since interest began): deliver it.
    Deliver,
    /// Already delivered: drop it.
    Duplicate,
    /// Events between the cursor and this one were missed (the subscriber
    /// reconnected): fetch those after `since` first.
    Gap { since: StreamPos },
}

/// The last position delivered for a room on this node.
pub(crate) fn judge(cursor: Option<&StreamPos>, pos: &StreamPos) -> Verdict {
    match cursor {
        Some(last) if last.epoch == pos.epoch => {
            if pos.offset <= last.offset {
                Verdict::Duplicate
            } else if pos.offset == last.offset + 1 {
                Verdict::Deliver
            } else {
                Verdict::Gap {
                    since: last.clone(),
                }
            }
        }
        _ => Verdict::Deliver,
    }
}

/// A room's events this node can no longer get (a broker outage outlasted
/// the room's history): nothing is lost silently, so every local
/// connection in the room is closed with 4013 and resumes elsewhere or
/// again, where its resume reports the gap (`history_truncated`).
pub(crate) fn events_lost(local: &crate::local::Local, room: &RoomId, why: &dyn std::fmt::Display) {
    let closed = local.close_room(room, chinwag_protocol::CloseCode::Rejoin);
    tracing::error!(%room, %why, closed, "missed events are no longer in history; closing the room's connections so they resume");
}

/// Delivers what a room missed while the node was cut off from the broker
/// (`missed`, read from history since its cursor); if history no longer
/// holds it, or could not be read, the room's cursor goes and its local
/// connections rejoin ([`events_lost`]).
pub(crate) async fn deliver_caught_up(
    local: &crate::local::Local,
    cursors: &std::sync::Mutex<std::collections::HashMap<RoomId, StreamPos>>,
    room: &RoomId,
    missed: Result<crate::Replay, HubError>,
) {
    match missed {
        Ok(crate::Replay::Events(events)) => {
            for frame in events {
                deliver_in_order(local, cursors, frame, |_, _| async {
                    Ok(crate::Replay::Events(Vec::new()))
                })
                .await;
            }
        }
        Ok(crate::Replay::Resync { reason, .. }) => {
            crate::conn::lock(cursors).remove(room);
            events_lost(local, room, &format_args!("{reason:?}"));
        }
        Err(err) => events_lost(local, room, &err),
    }
}

/// Delivers a live room frame through its cursor: duplicates are dropped,
/// gaps filled from history first (via `fill`), so each node delivers every
/// event exactly once and in offset order even across reconnects.
pub(crate) async fn deliver_in_order<F, Fut>(
    local: &crate::local::Local,
    cursors: &std::sync::Mutex<std::collections::HashMap<RoomId, StreamPos>>,
    frame: Arc<SharedFrame>,
    fill: F,
) where
    F: FnOnce(RoomId, StreamPos) -> Fut,
    Fut: std::future::Future<Output = Result<crate::Replay, HubError>>,
{
    let Some(pos) = frame.pos().cloned() else {
        local.deliver(&frame);
        return;
    };
    let room = frame.room().clone();
    let verdict = {
        let cursors = crate::conn::lock(cursors);
        judge(cursors.get(&room), &pos)
    };
    match verdict {
        Verdict::Duplicate => return,
        Verdict::Deliver => {}
        Verdict::Gap { since } => {
            tracing::warn!(%room, from = since.offset, to = pos.offset, "filling a delivery gap");
            match fill(room.clone(), since).await {
                Ok(crate::Replay::Events(events)) => {
                    for missed in events.iter().filter(|f| f.offset() < Some(pos.offset)) {
                        local.deliver(missed);
                    }
                }
                Ok(crate::Replay::Resync { reason, .. }) => {
                    events_lost(local, &room, &format_args!("{reason:?}"));
                }
                Err(err) => events_lost(local, &room, &err),
            }
        }
    }
    local.deliver(&frame);
    let mut cursors = crate::conn::lock(cursors);
    // Only track rooms still wanted: set_interest(false) removed the entry.
    if let Some(cur) = cursors.get_mut(&room) {
        *cur = pos;
    } else if local.has_interest(&room) {
        cursors.insert(room, pos);
    }
}

/// Decodes a room payload received live and delivers it through its
/// cursor ([`deliver_in_order`]); a payload that cannot be decoded is
/// logged and dropped.
pub(crate) async fn deliver_payload<F, Fut>(
    local: &crate::local::Local,
    cursors: &std::sync::Mutex<std::collections::HashMap<RoomId, StreamPos>>,
    payload: Bytes,
    fill: F,
) where
    F: FnOnce(RoomId, StreamPos) -> Fut,
    Fut: std::future::Future<Output = Result<crate::Replay, HubError>>,
{
    match decode_room_payload(payload) {
        Ok(frame) => deliver_in_order(local, cursors, Arc::new(frame), fill).await,
        Err(err) => tracing::warn!(%err, "bad room message"),
    }
}

/// Starts a room's cursor at the head read right after subscribing: live
/// delivery starts after it, and any later gap (a reconnect) is detected
/// and filled from history. A cursor the delivery task already advanced
/// past `head` is kept.
pub(crate) fn start_cursor(
    cursors: &std::sync::Mutex<std::collections::HashMap<RoomId, StreamPos>>,
    room: &RoomId,
    head: StreamPos,
) {
    crate::conn::lock(cursors)
        .entry(room.clone())
        .and_modify(|cur| {
            if cur.epoch != head.epoch || cur.offset < head.offset {
                *cur = head.clone();
            }
        })
        .or_insert(head);
}

#[cfg(test)]
mod tests {
    use chinwag_protocol::event::topic::TopicMessage;

    use super::*;

    fn event() -> Event {
        Event::TopicMessage(TopicMessage {
            topic: "t".into(),
            from: Some(Id(7)),
            origin_node: "n\"x".into(),
            data: serde_json::json!({"a": [1, "é"]}),
        })
    }

    #[test]
    fn spliced_json_equals_serde_output() {
        let room = RoomId::topic("t").unwrap();
        let enc = EncodedEvent::new(&room, event()).unwrap();
        let pos = StreamPos {
            epoch: "00ab".into(),
            offset: 42,
        };
        let expected = serde_json::to_string(&ServerFrame::Event(EventFrame {
            room: room.to_string(),
            epoch: Some(pos.epoch.clone()),
            offset: Some(42),
            event: event(),
        }))
        .unwrap();
        assert_eq!(enc.at(&pos), expected);
        let frame =
            decode_room_payload(room_payload(Some(UserRole::Bot), &expected).into()).unwrap();
        assert_eq!(frame.pos(), Some(&pos));
        assert_eq!(frame.only_role(), Some(UserRole::Bot));
        assert_eq!(frame.event(), &event());
    }

    #[tokio::test]
    async fn a_gap_history_cannot_fill_closes_the_rooms_connections() {
        use chinwag_protocol::CloseCode;
        use chinwag_protocol::stream::ResyncReason;

        let local = crate::local::Local::new(
            crate::NodeId::generate(Some("gap")),
            crate::OutboxConfig::default(),
        );
        let room = RoomId::topic("t").unwrap();
        let (inside, _in_outbox) = local.register(Id(1), UserRole::User);
        let (outside, _out_outbox) = local.register(Id(2), UserRole::User);
        local.add_member(&inside, &room);
        let at = |offset| StreamPos {
            epoch: "e".into(),
            offset,
        };
        let cursors =
            std::sync::Mutex::new(std::collections::HashMap::from([(room.clone(), at(2))]));
        let frame = Arc::new(SharedFrame::new(room.clone(), Some(at(9)), event(), None));
        deliver_in_order(&local, &cursors, frame, |_, _| async {
            Ok(crate::Replay::Resync {
                reason: ResyncReason::HistoryTruncated,
                head: at(9),
            })
        })
        .await;
        assert_eq!(inside.close_requested(), Some(CloseCode::Rejoin));
        assert_eq!(outside.close_requested(), None);
    }

    #[test]
    fn cursor_verdicts() {
        let at = |e: &str, o| StreamPos {
            epoch: e.into(),
            offset: o,
        };
        assert_eq!(judge(None, &at("e", 5)), Verdict::Deliver);
        assert_eq!(judge(Some(&at("e", 4)), &at("e", 5)), Verdict::Deliver);
        assert_eq!(judge(Some(&at("e", 5)), &at("e", 5)), Verdict::Duplicate);
        assert_eq!(
            judge(Some(&at("e", 2)), &at("e", 5)),
            Verdict::Gap { since: at("e", 2) }
        );
        assert_eq!(judge(Some(&at("e", 9)), &at("f", 1)), Verdict::Deliver);
    }
}
