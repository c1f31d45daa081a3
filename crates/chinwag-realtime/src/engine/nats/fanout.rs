//! Subscriptions and delivery. All subscriptions share the node's one
//! client connection: its `to_conn` subject, the control log's live subject
//! (drained in `control`), and each
//! interesting room's fan-out subject, each drained by its own task so a
//! room's frames are delivered one after another, in offset order.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_nats::{Message, Subscriber};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Inner, chain, control, pack};
use crate::conn::lock;
use crate::engine::broker::{
    decode_conn_payload, deliver_caught_up, deliver_payload, engine_err, start_cursor,
};
use crate::{HubError, RoomId};

/// Subscribes this node's `to_conn` subject and the control log's live
/// subject (the control cursor must have been started).
pub(super) async fn start(inner: &Arc<Inner>) -> Result<Vec<JoinHandle<()>>, HubError> {
    let node = subscribe(inner, inner.names.node(inner.local.node().tag())).await?;
    let control = control::subscribe(inner).await?;
    flush(inner).await?;
    Ok(vec![
        tokio::spawn(node_task(inner.clone(), node)),
        tokio::spawn(control::run(
            inner.clone(),
            control,
            inner.connects.subscribe(),
        )),
    ])
}

async fn subscribe(inner: &Inner, subject: String) -> Result<Subscriber, HubError> {
    inner
        .client
        .subscribe(subject)
        .await
        .map_err(|e| engine_err("nats subscribe", e))
}

/// Waits until the server has processed what was sent (so a subscription
/// is active before the caller reads the stream head).
async fn flush(inner: &Inner) -> Result<(), HubError> {
    inner
        .client
        .flush()
        .await
        .map_err(|e| engine_err("nats flush", e))
}

/// Starts or stops the room's subscription and delivery task.
pub(super) async fn set_interest(
    inner: &Arc<Inner>,
    room: &RoomId,
    interested: bool,
) -> Result<(), HubError> {
    if !interested {
        lock(&inner.cursors).remove(room);
        if let Some(task) = lock(&inner.subs).remove(room) {
            task.abort();
        }
        return Ok(());
    }
    if lock(&inner.subs).contains_key(room) {
        return Ok(());
    }
    let sub = subscribe(inner, inner.names.fanout(room)).await?;
    flush(inner).await?;
    start_cursor(&inner.cursors, room, chain::head(inner, room).await?.pos());
    let task = tokio::spawn(room_task(
        inner.clone(),
        room.clone(),
        sub,
        inner.connects.subscribe(),
    ));
    if let Some(old) = lock(&inner.subs).insert(room.clone(), task) {
        old.abort();
    }
    Ok(())
}

async fn room_task(
    inner: Arc<Inner>,
    room: RoomId,
    mut sub: Subscriber,
    mut connects: watch::Receiver<u64>,
) {
    loop {
        tokio::select! {
            msg = sub.next() => match msg {
                Some(msg) => deliver(&inner, msg).await,
                None => break,
            },
            changed = connects.changed() => {
                if changed.is_err() {
                    break;
                }
                catch_up(&inner, &room).await;
            }
        }
    }
}

async fn deliver(inner: &Inner, msg: Message) {
    if msg.payload.is_empty() {
        return; // a chain marker
    }
    inner.room_messages.fetch_add(1, Ordering::Relaxed);
    let payloads = match pack::unpack(msg.headers.as_ref(), msg.payload) {
        Ok(payloads) => payloads,
        Err(err) => return tracing::warn!(subject = %msg.subject, %err, "bad room message"),
    };
    for payload in payloads {
        deliver_payload(
            &inner.local,
            &inner.cursors,
            payload,
            |room, since| async move { chain::replay(inner, &room, &since).await },
        )
        .await;
    }
}

/// After a reconnect, delivers what the room missed while disconnected.
async fn catch_up(inner: &Inner, room: &RoomId) {
    let Some(since) = lock(&inner.cursors).get(room).cloned() else {
        return;
    };
    let missed = chain::replay(inner, room, &since).await;
    deliver_caught_up(&inner.local, &inner.cursors, room, missed).await;
}

async fn node_task(inner: Arc<Inner>, mut sub: Subscriber) {
    while let Some(msg) = sub.next().await {
        let delivered = match decode_conn_payload(msg.payload) {
            Ok((conn, frame)) => inner.local.deliver_to_conn(conn, &Arc::new(frame)),
            Err(err) => {
                tracing::warn!(%err, "bad to_conn message");
                false
            }
        };
        if let Some(reply) = msg.reply {
            let answer = Bytes::from_static(if delivered { b"1" } else { b"0" });
            if let Err(err) = inner.client.publish(reply, answer).await {
                tracing::warn!(%err, "to_conn reply failed");
            }
        }
    }
}
