//! The HTTP/1.1 accept loop. It does what `axum::serve` does (TCP_NODELAY,
//! the peer's address as `ConnectInfo`, upgrades, graceful shutdown) and
//! adds what that lacks: a deadline for each request's headers. Without it
//! a client that connects and sends nothing, or half a request, holds a
//! file descriptor for good, outside the gateway's connection cap: two
//! thousand such sockets from one client held two thousand descriptors
//! (an audit). The deadline also closes idle keep-alive connections, since
//! hyper arms it while waiting for the next request. An upgraded WebSocket
//! leaves hyper, and its own heartbeat deadline takes over. A request's
//! body has a deadline too (`accept/body_deadline.rs`).

mod body_deadline;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use body_deadline::BodyDeadline;

/// How long a client may take over a request: its headers, then its body.
/// A zero duration is no deadline.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// For the headers (and for an idle keep-alive connection).
    pub header: Duration,
    /// For the body, from the headers.
    pub body: Duration,
}

/// Serves `app` on `listener` until `shutdown` is cancelled; then stops
/// accepting, lets each connection finish its request, and returns once
/// every connection has closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    deadlines: Deadlines,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    pause_after(err).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        // Frames are small and latency matters: do not let Nagle's
        // algorithm hold one back waiting for the client's delayed ACK
        // (seen as a ~40 ms p99 floor in the chat bench).
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "TCP_NODELAY not set");
        }
        connections.spawn(connection(
            stream,
            peer,
            app.clone(),
            deadlines,
            shutdown.clone(),
        ));
    }
    connections.close();
    connections.wait().await;
}

/// Serves one connection.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    deadlines: Deadlines,
    shutdown: CancellationToken,
) {
    let header_timeout = (!deadlines.header.is_zero()).then_some(deadlines.header);
    let body_timeout = (!deadlines.body.is_zero()).then_some(deadlines.body);
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(|body| match body_timeout {
            Some(timeout) => axum::body::Body::new(BodyDeadline::new(body, timeout)),
            None => axum::body::Body::new(body),
        });
        request.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.oneshot(request).await.unwrap_or_else(|e| match e {})) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(err) = result {
        tracing::debug!(%peer, %err, "HTTP connection ended with an error");
    }
}

/// After a failed accept: a connection-level error (the peer gave up) is
/// nothing; anything else (out of file descriptors, say) is logged, and
/// accepting pauses a second so the loop does not spin.
async fn pause_after(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "accept failed; pausing a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
