//! The socketioxide peer: the same job as the Node Socket.IO peer (JWT
//! checked in a connect middleware, topics as rooms, `io.to(room).emit`),
//! written the idiomatic socketioxide way on axum. With a Redis URL it
//! clusters through `socketioxide-redis`, as the Node peer does through
//! `@socket.io/redis-adapter`.

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Data, SocketRef, State};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide_redis::drivers::redis::redis_client as redis;
use socketioxide_redis::{RedisAdapter, RedisAdapterCtr};
use tokio::net::TcpListener;

use crate::jwt;

#[derive(Clone)]
struct Secret(String);

#[derive(Clone)]
struct Uid(String);

#[derive(Deserialize)]
struct Auth {
    token: String,
}

#[derive(Deserialize)]
struct PublishMsg {
    topic: String,
    data: Value,
}

#[derive(Debug)]
struct Unauthorized;

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unauthorized")
    }
}

async fn authenticate<A: Adapter>(
    s: SocketRef<A>,
    Data(auth): Data<Auth>,
    State(secret): State<Secret>,
) -> Result<(), Unauthorized> {
    let claims = jwt::verify(&secret.0, &auth.token).map_err(|_| Unauthorized)?;
    s.extensions.insert(Uid(claims.sub));
    Ok(())
}

async fn on_connect<A: Adapter>(s: SocketRef<A>) {
    s.on(
        "subscribe",
        async |s: SocketRef<A>, Data(topic): Data<String>, ack: AckSender<A>| {
            s.join(topic);
            let _ = ack.send(&json!({ "ok": true }));
        },
    );
    s.on(
        "publish",
        async |s: SocketRef<A>, io: SocketIo<A>, Data(msg): Data<PublishMsg>, ack: AckSender<A>| {
            let from = s.extensions.get::<Uid>().map(|u| u.0).unwrap_or_default();
            let event = json!({ "topic": msg.topic, "from": from, "data": msg.data });
            let _ = io.to(msg.topic).emit("message", &event).await;
            let _ = ack.send(&json!({ "ok": true }));
        },
    );
}

/// Serves Socket.IO on `listener` until the process ends; with `redis`, as
/// one node of a cluster through that Redis.
pub async fn run(listener: TcpListener, secret: String, redis: Option<String>) -> Result<()> {
    let builder = SocketIo::builder().with_state(Secret(secret));
    let Some(url) = redis else {
        let (layer, io) = builder.build_layer();
        io.ns("/", on_connect.with(authenticate));
        return serve(listener, layer).await;
    };
    // The adapter speaks RESP3 (Redis 7 and later).
    let sep = if url.contains('?') { '&' } else { '?' };
    let client = redis::Client::open(format!("{url}{sep}protocol=resp3"))?;
    let adapter = RedisAdapterCtr::new_with_redis(&client)
        .await
        .context("connecting the Redis adapter")?;
    let (layer, io) = builder
        .with_adapter::<RedisAdapter<_>>(adapter)
        .build_layer();
    io.ns("/", on_connect.with(authenticate))
        .await
        .context("starting the Redis adapter")?;
    serve(listener, layer).await
}

async fn serve<A: Adapter>(listener: TcpListener, layer: SocketIoLayer<A>) -> Result<()> {
    let app = axum::Router::new().layer(layer);
    // TCP_NODELAY, as Chinwag and Node's http server set it, so latency
    // compares like for like.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}
