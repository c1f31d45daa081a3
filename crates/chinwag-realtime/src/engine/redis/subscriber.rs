//! The node's one pub/sub connection: subscriptions follow room interest,
//! received messages go to [`Local`](crate::local::Local) in offset order,
//! and a dropped connection is re-established with backoff.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::PubSubStream;

use super::{Inner, control};
use crate::conn::lock;
use crate::engine::broker::{
    decode_conn_payload, deliver_caught_up, deliver_payload, engine_err, start_cursor,
};
use crate::{HubError, RoomId};

/// Opens a pub/sub connection, subscribes this node's channels and every
/// interesting room, and installs its sink. Holding the sink lock while
/// doing so orders this against concurrent [`set_interest`] calls.
pub(super) async fn connect(inner: &Inner) -> Result<PubSubStream, HubError> {
    let (mut sink, stream) = inner
        .client
        .get_async_pubsub()
        .await
        .map_err(|e| engine_err("redis pubsub connect", e))?
        .split();
    let mut slot = inner.sink.lock().await;
    let mut channels = vec![
        inner.keys.node_channel(inner.local.node().tag()),
        inner.keys.control_channel(),
    ];
    channels.extend(
        inner
            .local
            .interesting_rooms()
            .iter()
            .map(|r| inner.keys.room_channel(r)),
    );
    sink.subscribe(&channels)
        .await
        .map_err(|e| engine_err("redis subscribe", e))?;
    *slot = Some(sink);
    Ok(stream)
}

/// Subscribes to or unsubscribes from a room's channel. While the
/// connection is down this only resets the room's cursor: the reconnect
/// subscribes whatever is interesting then.
pub(super) async fn set_interest(
    inner: &Inner,
    room: &RoomId,
    interested: bool,
) -> Result<(), HubError> {
    let mut slot = inner.sink.lock().await;
    if !interested {
        lock(&inner.cursors).remove(room);
    }
    let Some(sink) = slot.as_mut() else {
        if interested {
            start_cursor(&inner.cursors, room, inner.head(room).await?);
        }
        return Ok(());
    };
    let channel = inner.keys.room_channel(room);
    if !interested {
        return sink
            .unsubscribe(&channel)
            .await
            .map_err(|e| engine_err("redis unsubscribe", e));
    }
    sink.subscribe(&channel)
        .await
        .map_err(|e| engine_err("redis subscribe", e))?;
    start_cursor(&inner.cursors, room, inner.head(room).await?);
    Ok(())
}

/// Delivers messages until the connection drops, then reconnects with
/// backoff, forever (the task is aborted when the engine drops).
pub(super) async fn run(inner: Arc<Inner>, mut stream: PubSubStream) {
    let mut backoff = Duration::from_millis(50);
    loop {
        while let Some(msg) = stream.next().await {
            handle(&inner, msg.get_channel_name(), msg.get_payload_bytes()).await;
        }
        *inner.sink.lock().await = None;
        tracing::warn!("redis pub/sub connection lost; reconnecting");
        loop {
            tokio::time::sleep(backoff).await;
            match connect(&inner).await {
                Ok(s) => {
                    stream = s;
                    backoff = Duration::from_millis(50);
                    tracing::info!("redis pub/sub reconnected");
                    inner
                        .control_log
                        .catch_up(&inner.control, |after| control::read_after(&inner, after))
                        .await;
                    catch_up(&inner).await;
                    break;
                }
                Err(err) => {
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    tracing::warn!(%err, "redis pub/sub reconnect failed");
                }
            }
        }
    }
}

/// After a reconnect, delivers what each room missed while disconnected.
async fn catch_up(inner: &Inner) {
    let rooms: Vec<_> = lock(&inner.cursors)
        .iter()
        .map(|(r, p)| (r.clone(), p.clone()))
        .collect();
    for (room, since) in rooms {
        let missed = inner.replay(&room, &since).await;
        deliver_caught_up(&inner.local, &inner.cursors, &room, missed).await;
    }
}

async fn handle(inner: &Inner, channel: &str, payload: &[u8]) {
    let payload = Bytes::copy_from_slice(payload);
    if channel == inner.keys.control_channel() {
        return control::receive(inner, &payload).await;
    }
    if channel == inner.keys.node_channel(inner.local.node().tag()) {
        match decode_conn_payload(payload) {
            Ok((conn, frame)) => {
                if !inner.local.deliver_to_conn(conn, &Arc::new(frame)) {
                    tracing::debug!(%conn, "to_conn for a connection that is gone");
                }
            }
            Err(err) => tracing::warn!(%err, "bad to_conn message"),
        }
        return;
    }
    inner.room_messages.fetch_add(1, Ordering::Relaxed);
    deliver_payload(
        &inner.local,
        &inner.cursors,
        payload,
        |room, since| async move { inner.replay(&room, &since).await },
    )
    .await;
}
