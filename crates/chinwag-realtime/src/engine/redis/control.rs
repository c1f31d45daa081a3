//! The control log on Redis: a stream of membership changes with gap-free
//! offsets under an epoch (`CONTROL` script), published live on the control
//! channel as `epoch offset payload`, and read back to fill gaps and to
//! catch up after a reconnect (see [`control_log`](crate::engine::control_log)).

use chinwag_protocol::StreamPos;
use redis::streams::StreamRangeReply;

use super::{Inner, scripts};
use crate::HubError;
use crate::engine::ControlMsg;
use crate::engine::broker::{WireControl, engine_err, new_epoch};
use crate::engine::control_log::{CONTROL_LOG_LEN, LogRead};

/// Appends a control message to the log and publishes it.
pub(super) async fn publish(inner: &Inner, msg: &ControlMsg) -> Result<(), HubError> {
    let payload = WireControl::encode(msg)?;
    let mut conn = inner.conn();
    let _offset: u64 = scripts::CONTROL
        .key(inner.keys.control_meta())
        .key(inner.keys.control_log())
        .arg(new_epoch())
        .arg(inner.keys.control_channel())
        .arg(payload)
        .arg(CONTROL_LOG_LEN)
        .invoke_async(&mut conn)
        .await
        .map_err(|e| engine_err("redis control", e))?;
    Ok(())
}

/// The log's epoch and last offset.
pub(super) async fn head(inner: &Inner) -> Result<StreamPos, HubError> {
    let mut conn = inner.conn();
    let (epoch, offset): (String, u64) = scripts::CONTROL_HEAD
        .key(inner.keys.control_meta())
        .key(inner.keys.control_log())
        .arg(new_epoch())
        .invoke_async(&mut conn)
        .await
        .map_err(|e| engine_err("redis control head", e))?;
    Ok(StreamPos { epoch, offset })
}

/// The log's messages with offsets in `after+1..=last` (`last` `None`: to
/// the end). A message that cannot be decoded is left out, which the
/// caller sees as a hole.
pub(super) async fn range(
    inner: &Inner,
    after: u64,
    last: Option<u64>,
) -> Result<Vec<(u64, ControlMsg)>, HubError> {
    let mut conn = inner.conn();
    let end = last.map_or_else(|| "+".to_string(), |last| format!("{last}-0"));
    let reply: StreamRangeReply = redis::cmd("XRANGE")
        .arg(inner.keys.control_log())
        .arg(format!("{}-0", after + 1))
        .arg(end)
        .query_async(&mut conn)
        .await
        .map_err(|e| engine_err("redis control range", e))?;
    let mut out = Vec::with_capacity(reply.ids.len());
    for entry in reply.ids {
        let offset = entry.id.split('-').next().and_then(|o| o.parse().ok());
        let payload: Option<Vec<u8>> = entry.get("p");
        match (offset, payload.map(|p| WireControl::decode(&p))) {
            (Some(offset), Some(Ok(msg))) => out.push((offset, msg)),
            _ => tracing::warn!(id = entry.id, "bad control log entry"),
        }
    }
    Ok(out)
}

/// What the log holds after `after`, for a catch-up.
pub(super) async fn read_after(inner: &Inner, after: u64) -> Result<LogRead, HubError> {
    let StreamPos {
        epoch,
        offset: head,
    } = head(inner).await?;
    let missed = if head > after {
        range(inner, after, Some(head)).await?
    } else {
        Vec::new()
    };
    Ok(LogRead {
        epoch,
        head,
        missed,
    })
}

/// Applies a message received live on the control channel.
pub(super) async fn receive(inner: &Inner, payload: &[u8]) {
    let Some((pos, msg)) = decode_live(payload) else {
        tracing::warn!("bad control message");
        return;
    };
    inner
        .control_log
        .receive(&inner.control, pos, msg, |after, before| {
            range(inner, after, Some(before - 1))
        })
        .await;
}

/// Splits `epoch offset payload`.
fn decode_live(payload: &[u8]) -> Option<(StreamPos, ControlMsg)> {
    let mut parts = payload.splitn(3, |b| *b == b' ');
    let epoch = std::str::from_utf8(parts.next()?).ok()?.to_string();
    let offset = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let msg = WireControl::decode(parts.next()?).ok()?;
    Some((StreamPos { epoch, offset }, msg))
}
