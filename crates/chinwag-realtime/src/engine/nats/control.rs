//! The control log on NATS: a JetStream stream of membership changes
//! (bounded to [`CONTROL_LOG_LEN`] messages) whose sequence numbers are
//! the offsets and whose creation time is the epoch. The stream republishes
//! each stored message, with its sequence in `Nats-Sequence`, to the live subject
//! every node subscribes to; a node reads the stream back to fill gaps and
//! to catch up after a reconnect (see
//! [`control_log`](crate::engine::control_log)).

use std::sync::Arc;

use async_nats::jetstream::stream::{self, DirectGetErrorKind, Republish};
use async_nats::jetstream::{self};
use async_nats::{Message, Subscriber};
use bytes::Bytes;
use chinwag_protocol::StreamPos;
use futures_util::StreamExt;
use tokio::sync::watch;

use super::{Inner, Names};
use crate::HubError;
use crate::engine::ControlMsg;
use crate::engine::broker::{WireControl, engine_err};
use crate::engine::control_log::{CONTROL_LOG_LEN, LogRead};

/// Creates the control stream if it does not exist.
pub(super) async fn ensure_stream(
    js: &jetstream::Context,
    names: &Names,
) -> Result<stream::Stream, HubError> {
    let config = stream::Config {
        name: names.control_stream(),
        subjects: vec![names.control_log()],
        max_messages: CONTROL_LOG_LEN as i64,
        allow_direct: true,
        republish: Some(Republish {
            source: names.control_log(),
            destination: names.control_live(),
            headers_only: false,
        }),
        ..Default::default()
    };
    js.get_or_create_stream(config)
        .await
        .map_err(|e| engine_err("nats control stream", e))
}

/// Appends a control message to the log (the stream sends it live).
pub(super) async fn publish(inner: &Inner, msg: &ControlMsg) -> Result<(), HubError> {
    let payload = Bytes::from(WireControl::encode(msg)?);
    inner
        .js
        .publish(inner.names.control_log(), payload)
        .await
        .map_err(|e| engine_err("nats control publish", e))?
        .await
        .map_err(|e| engine_err("nats control ack", e))?;
    Ok(())
}

/// The log's epoch and last offset.
pub(super) async fn head(inner: &Inner) -> Result<StreamPos, HubError> {
    let info = inner
        .control_stream
        .get_info()
        .await
        .map_err(|e| engine_err("nats control info", e))?;
    Ok(StreamPos {
        epoch: format!("{:x}", info.created.unix_timestamp_nanos()),
        offset: info.state.last_sequence,
    })
}

/// The log's messages with offsets in `after+1..=last`. One that is gone
/// (trimmed) or cannot be decoded is left out, which the caller sees as a
/// hole.
async fn range(inner: &Inner, after: u64, last: u64) -> Result<Vec<(u64, ControlMsg)>, HubError> {
    let mut out = Vec::new();
    for seq in after + 1..=last {
        match inner.control_stream.direct_get(seq).await {
            Ok(stored) => match WireControl::decode(&stored.payload) {
                Ok(msg) => out.push((seq, msg)),
                Err(err) => tracing::warn!(seq, %err, "bad control log entry"),
            },
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => {}
            Err(e) => return Err(engine_err("nats control get", e)),
        }
    }
    Ok(out)
}

/// What the log holds after `after`, for a catch-up.
async fn read_after(inner: &Inner, after: u64) -> Result<LogRead, HubError> {
    let StreamPos {
        epoch,
        offset: head,
    } = head(inner).await?;
    let missed = range(inner, after, head).await?;
    Ok(LogRead {
        epoch,
        head,
        missed,
    })
}

/// Subscribes the live subject.
pub(super) async fn subscribe(inner: &Inner) -> Result<Subscriber, HubError> {
    inner
        .client
        .subscribe(inner.names.control_live())
        .await
        .map_err(|e| engine_err("nats subscribe", e))
}

/// Applies live control messages, and catches up after each reconnect.
pub(super) async fn run(
    inner: Arc<Inner>,
    mut live: Subscriber,
    mut connects: watch::Receiver<u64>,
) {
    loop {
        tokio::select! {
            msg = live.next() => match msg {
                Some(msg) => receive(&inner, msg).await,
                None => break,
            },
            changed = connects.changed() => {
                if changed.is_err() {
                    break;
                }
                inner
                    .control_log
                    .catch_up(&inner.control, |after| read_after(&inner, after))
                    .await;
            }
        }
    }
}

async fn receive(inner: &Inner, msg: Message) {
    let offset = msg
        .headers
        .as_ref()
        .and_then(|h| h.get(async_nats::header::NATS_SEQUENCE))
        .and_then(|v| v.as_str().parse::<u64>().ok());
    let (Some(offset), Ok(decoded)) = (offset, WireControl::decode(&msg.payload)) else {
        tracing::warn!("bad control message");
        return;
    };
    // Live messages carry no epoch: the stream is the one the cursor was
    // started on; a reconnect's catch-up checks that it still is.
    let Some(last) = inner.control_log.last() else {
        return;
    };
    let pos = StreamPos {
        epoch: last.epoch,
        offset,
    };
    inner
        .control_log
        .receive(&inner.control, pos, decoded, |after, before| {
            range(inner, after, before - 1)
        })
        .await;
}
