//! The socketioxide peer: the same job as the Node Socket.IO peer (JWT
//! checked in a connect middleware, topics as rooms, `io.to(room).emit`),
//! written the idiomatic socketioxide way on axum.

use anyhow::Result;
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef, State};
use socketioxide::handler::ConnectHandler;
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

async fn authenticate(
    s: SocketRef,
    Data(auth): Data<Auth>,
    State(secret): State<Secret>,
) -> Result<(), Unauthorized> {
    let claims = jwt::verify(&secret.0, &auth.token).map_err(|_| Unauthorized)?;
    s.extensions.insert(Uid(claims.sub));
    Ok(())
}

async fn on_connect(s: SocketRef) {
    s.on(
        "subscribe",
        async |s: SocketRef, Data(topic): Data<String>, ack: AckSender| {
            s.join(topic);
            let _ = ack.send(&json!({ "ok": true }));
        },
    );
    s.on(
        "publish",
        async |s: SocketRef, io: SocketIo, Data(msg): Data<PublishMsg>, ack: AckSender| {
            let from = s.extensions.get::<Uid>().map(|u| u.0).unwrap_or_default();
            let event = json!({ "topic": msg.topic, "from": from, "data": msg.data });
            let _ = io.to(msg.topic).emit("message", &event).await;
            let _ = ack.send(&json!({ "ok": true }));
        },
    );
}

/// Serves Socket.IO on `listener` until the process ends.
pub async fn run(listener: TcpListener, secret: String) -> Result<()> {
    let (layer, io) = SocketIo::builder().with_state(Secret(secret)).build_layer();
    io.ns("/", on_connect.with(authenticate));
    let app = axum::Router::new().layer(layer);
    // TCP_NODELAY, as Chinwag and Node's http server set it, so latency
    // compares like for like.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}
