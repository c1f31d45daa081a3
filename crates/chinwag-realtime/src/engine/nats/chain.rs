//! Room chains: offsets assigned by compare-and-set on the room subject's
//! last sequence, history in the stream, `head` and `replay`.
//!
//! A stored message holds one event or a pack of them (see `pack`); its
//! `Chinwag-Offset` is its last event's.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::stream::{self, DirectGetErrorKind, Republish};
use async_nats::jetstream::{self};
use bytes::Bytes;
use chinwag_protocol::StreamPos;
use chinwag_protocol::stream::ResyncReason;
use futures_util::StreamExt;

use super::pack::{self, Durable};
use super::{Inner, Names};
use crate::conn::lock;
use crate::engine::broker::{BrokerOptions, decode_room_payload, engine_err, new_epoch};
use crate::{HubError, Replay, RoomId};

const EPOCH: &str = "Chinwag-Epoch";
const OFFSET: &str = "Chinwag-Offset";
const EXPECTED_LAST: &str = "Nats-Expected-Last-Subject-Sequence";
/// Appends a publisher retries after losing a race before giving up.
const MAX_ATTEMPTS: usize = 200;
/// How long a replay waits for each history message.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// Replays of at most this many events start at the first message they
/// need rather than at the room's first. Measured per replay of 5 events:
/// 2.8 ms instead of 21 ms in a room of 5000 single events, 2.2 ms instead
/// of 6.3 ms in one of 10,000 events in 1000 packs; even at 2000 events,
/// slower past about 5000.
const SEEK_MAX_MISSED: u64 = 2000;
/// Chains cached per node before the cache is reset.
const MAX_CACHED: usize = 10_000;

/// The end of a room's chain: its epoch, last offset, and that message's
/// stream sequence (0 when the room has no message).
#[derive(Debug, Clone)]
pub(super) struct Chain {
    epoch: String,
    offset: u64,
    seq: u64,
}

impl Chain {
    pub fn pos(&self) -> StreamPos {
        StreamPos {
            epoch: self.epoch.clone(),
            offset: self.offset,
        }
    }
}

/// Creates the rooms stream if it does not exist.
pub(super) async fn ensure_stream(
    js: &jetstream::Context,
    names: &Names,
    opts: &BrokerOptions,
) -> Result<stream::Stream, HubError> {
    let config = stream::Config {
        name: names.stream(),
        subjects: vec![names.stream_subjects()],
        // One more than the history, for the chain marker `head` may store.
        max_messages_per_subject: opts.history.max_len as i64 + 1,
        max_age: opts.history.max_age,
        allow_direct: true,
        republish: Some(Republish {
            source: names.stream_subjects(),
            destination: names.republish_subjects(),
            headers_only: false,
        }),
        ..Default::default()
    };
    js.get_or_create_stream(config)
        .await
        .map_err(|e| engine_err("nats stream", e))
}

pub(super) fn header<'a>(headers: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    headers?.get(name).map(|v| v.as_str())
}

/// The epoch and offset a stored message carries.
pub(super) fn position(headers: Option<&HeaderMap>) -> Option<StreamPos> {
    Some(StreamPos {
        epoch: header(headers, EPOCH)?.to_string(),
        offset: header(headers, OFFSET)?.parse().ok()?,
    })
}

/// The room's chain end as stored now, or `None` if the room is empty.
async fn load(inner: &Inner, room: &RoomId) -> Result<Option<Chain>, HubError> {
    match inner
        .rooms
        .direct_get_last_for_subject(inner.names.room(room))
        .await
    {
        Ok(msg) => {
            let pos = position(Some(&msg.headers))
                .ok_or_else(|| HubError::Engine("room message without a position".into()))?;
            Ok(Some(Chain {
                epoch: pos.epoch,
                offset: pos.offset,
                seq: msg.sequence,
            }))
        }
        Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(None),
        Err(e) => Err(engine_err("nats last message", e)),
    }
}

/// Appends `count` events ending at `pos` if the room's last sequence is
/// still `expect`. Returns the new message's sequence, or `None` if another
/// append won.
async fn append(
    inner: &Inner,
    room: &RoomId,
    expect: u64,
    pos: &StreamPos,
    count: usize,
    payload: Bytes,
) -> Result<Option<u64>, HubError> {
    let mut headers = HeaderMap::new();
    headers.insert(EXPECTED_LAST, expect.to_string().as_str());
    headers.insert(EPOCH, pos.epoch.as_str());
    headers.insert(OFFSET, pos.offset.to_string().as_str());
    if count > 1 {
        headers.insert(pack::COUNT, count.to_string().as_str());
    }
    let ack = inner
        .js
        .publish_with_headers(inner.names.room(room), headers, payload)
        .await
        .map_err(|e| engine_err("nats publish", e))?
        .await;
    match ack {
        Ok(ack) => Ok(Some(ack.sequence)),
        Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(None),
        Err(e) => Err(engine_err("nats publish", e)),
    }
}

fn remember(inner: &Inner, room: &RoomId, chain: Option<Chain>) {
    let mut chains = lock(&inner.chains);
    match chain {
        Some(chain) => {
            if chains.len() >= MAX_CACHED {
                chains.clear();
            }
            chains.insert(room.clone(), chain);
        }
        None => {
            chains.remove(room);
        }
    }
}

/// Appends durable events of one room (at most [`MAX_PACK`]) at its next
/// offsets, in order, as one stored message. Returns their positions.
pub(super) async fn publish(
    inner: &Inner,
    room: &RoomId,
    events: &[Durable],
) -> Result<Vec<StreamPos>, HubError> {
    let _turn = inner.publishing.lock(room.clone()).await;
    let count = events.len() as u64;
    for attempt in 0..MAX_ATTEMPTS {
        let cached = lock(&inner.chains).get(room).cloned();
        let chain = match cached {
            Some(chain) => chain,
            None => load(inner, room).await?.unwrap_or_else(|| Chain {
                epoch: new_epoch(),
                offset: 0,
                seq: 0,
            }),
        };
        let positions: Vec<StreamPos> = (1..=count)
            .map(|n| StreamPos {
                epoch: chain.epoch.clone(),
                offset: chain.offset + n,
            })
            .collect();
        let last = positions.last().expect("a pack is never empty").clone();
        let payload = pack::pack(events, &positions);
        match append(inner, room, chain.seq, &last, events.len(), payload).await {
            Ok(Some(seq)) => {
                remember(
                    inner,
                    room,
                    Some(Chain {
                        epoch: last.epoch,
                        offset: last.offset,
                        seq,
                    }),
                );
                return Ok(positions);
            }
            Ok(None) => {
                remember(inner, room, None);
                if attempt > 2 {
                    let jitter = rand::random::<u64>() % 2000;
                    tokio::time::sleep(Duration::from_micros(jitter)).await;
                }
            }
            Err(err) => {
                remember(inner, room, None);
                return Err(err);
            }
        }
    }
    Err(HubError::Engine(format!(
        "nats publish to {room}: too much contention"
    )))
}

/// The room's chain end now; an empty room gets its chain started by a
/// marker at offset 0, so the epoch returned is the one later events use.
pub(super) async fn head(inner: &Inner, room: &RoomId) -> Result<Chain, HubError> {
    for _ in 0..MAX_ATTEMPTS {
        if let Some(chain) = load(inner, room).await? {
            return Ok(chain);
        }
        let pos = StreamPos {
            epoch: new_epoch(),
            offset: 0,
        };
        if let Some(seq) = append(inner, room, 0, &pos, 1, Bytes::new()).await? {
            return Ok(Chain {
                epoch: pos.epoch,
                offset: 0,
                seq,
            });
        }
    }
    Err(HubError::Engine(format!(
        "nats head of {room}: too much contention"
    )))
}

/// Events after `since`, or a resync.
pub(super) async fn replay(
    inner: &Inner,
    room: &RoomId,
    since: &StreamPos,
) -> Result<Replay, HubError> {
    let chain = head(inner, room).await?;
    let resync = |reason| {
        Ok(Replay::Resync {
            reason,
            head: chain.pos(),
        })
    };
    if since.epoch != chain.epoch || since.offset > chain.offset {
        return resync(ResyncReason::EpochChanged);
    }
    if since.offset == chain.offset {
        return Ok(Replay::Events(Vec::new()));
    }
    // The stream keeps one message more than the history (the marker).
    let first_kept = chain
        .offset
        .saturating_sub(inner.opts.history.max_len as u64)
        + 1;
    if since.offset + 1 < first_kept {
        return resync(ResyncReason::HistoryTruncated);
    }
    // A short catch-up reads from the first message it needs; a long one
    // reads the room from its start, which nats-server (2.9) serves faster
    // than a consumer started mid-stream.
    let start = if chain.offset - since.offset <= SEEK_MAX_MISSED {
        // A message trimmed between `head` and a probe fails the seek; reading
        // from the start is always right.
        first_after(inner, room, since, chain.seq)
            .await
            .unwrap_or_else(|err| {
                tracing::debug!(%room, %err, "replay seek failed: reading the room from its start");
                1
            })
    } else {
        1
    };
    let mut first = None;
    let mut events = Vec::new();
    for (pos, payload) in fetch(inner, room, start, chain.seq).await? {
        if pos.epoch != chain.epoch || pos.offset == 0 || pos.offset > chain.offset {
            continue;
        }
        first.get_or_insert(pos.offset);
        if pos.offset > since.offset {
            events.push(std::sync::Arc::new(decode_room_payload(payload)?));
        }
    }
    if since.offset + 1 < first.unwrap_or(chain.offset + 1).max(first_kept) {
        return resync(ResyncReason::HistoryTruncated);
    }
    Ok(Replay::Events(events))
}

/// The stream sequence of the first stored message of `room` that holds
/// an offset after `since` (its epoch's): where a replay starts, so that it
/// reads what the client missed rather than the room's whole history.
/// Found by bisecting the sequences up to `last` (a message of the room
/// holding a later offset) with direct gets, about log2(`last`) round trips;
/// one when the client missed the whole stored history.
async fn first_after(
    inner: &Inner,
    room: &RoomId,
    since: &StreamPos,
    last: u64,
) -> Result<u64, HubError> {
    let subject = inner.names.room(room);
    // The first message of the room at or after `seq`: its sequence, and
    // whether it holds an offset after `since`.
    let probe = |seq: u64| {
        let subject = &subject;
        async move {
            let msg = inner
                .rooms
                .direct_get_next_for_subject(subject, Some(seq))
                .await
                .map_err(|e| engine_err("nats replay start", e))?;
            let headers = msg.message.headers.as_ref();
            let found = headers
                .and_then(|h| h.get(async_nats::header::NATS_SEQUENCE))
                .and_then(|s| s.as_str().parse::<u64>().ok())
                .ok_or_else(|| HubError::Engine("direct get without a sequence".into()))?;
            let after = position(headers)
                .is_some_and(|pos| pos.epoch == since.epoch && pos.offset > since.offset);
            Ok::<_, HubError>((found, after))
        }
    };
    let (first, after) = probe(1).await?;
    if after {
        return Ok(first);
    }
    // The answer lies in (first, last]: `lo` never passes it, and the
    // first room message at or after `hi` is always `start`.
    let (mut lo, mut hi, mut start) = (first + 1, last, last);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let (found, after) = probe(mid).await?;
        if after {
            (hi, start) = (mid, found);
        } else {
            lo = found + 1;
        }
    }
    Ok(start)
}

/// The stored messages of the room from sequence `start` to `last`, in
/// order.
async fn fetch(
    inner: &Inner,
    room: &RoomId,
    start: u64,
    last: u64,
) -> Result<Vec<(StreamPos, Bytes)>, HubError> {
    let consumer = inner
        .rooms
        .create_consumer(pull::OrderedConfig {
            filter_subject: inner.names.room(room),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ..Default::default()
        })
        .await
        .map_err(|e| engine_err("nats replay consumer", e))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| engine_err("nats replay", e))?;
    let mut out = Vec::new();
    loop {
        let msg = tokio::time::timeout(FETCH_TIMEOUT, messages.next())
            .await
            .map_err(|_| HubError::Engine(format!("nats replay of {room} timed out")))?
            .ok_or_else(|| HubError::Engine("nats replay ended early".into()))?
            .map_err(|e| engine_err("nats replay", e))?;
        let seq = msg
            .info()
            .map_err(|e| engine_err("nats replay", e))?
            .stream_sequence;
        if seq > last {
            break;
        }
        if let Some(last) = position(msg.headers.as_ref()) {
            let events = pack::unpack(msg.headers.as_ref(), msg.payload.clone())?;
            let first = (last.offset + 1).saturating_sub(events.len() as u64);
            for (offset, payload) in (first..).zip(events) {
                let epoch = last.epoch.clone();
                out.push((StreamPos { epoch, offset }, payload));
            }
        }
        if seq == last {
            break;
        }
    }
    Ok(out)
}
