//! [`run`]: serve until shutdown, then drain.
//!
//! Shutdown fans out from one signal: the listener stops accepting, every
//! session sends `reconnect` and closes with 4011, and `run` returns once
//! all sessions have ended (or the drain timeout passed).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use chinwag_protocol::CloseCode;
use tokio::net::{TcpListener, TcpSocket};

use crate::{AppState, router};

/// How long shutdown waits for sessions to close.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Beyond the presence grace period, how long a stopping node waits for its
/// pending offline checks (each also takes the user out of voice).
pub const OFFLINE_CHECK_MARGIN: Duration = Duration::from_secs(2);

/// A server bound to a listener (tests bind port 0 and read the address).
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
}

impl Server {
    /// Binds `addr`, with the configured accept queue
    /// ([`crate::Config::listen_backlog`]; the usual default of 128 drops
    /// connections in a reconnect storm).
    pub async fn bind(addr: SocketAddr, state: AppState) -> std::io::Result<Server> {
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        // As `TcpListener::bind` does: a restarted node can take its port
        // back while old connections linger in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        Ok(Server {
            listener: socket.listen(state.config.listen_backlog)?,
            state,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        run(self.listener, self.state, shutdown).await
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = state.shutdown.clone();
    let sessions = state.sessions.clone();
    let node = state.hub.node().name().to_string();
    let hub = state.hub.clone();
    let presence = state.presence.clone();
    let grace_ms = state.config.presence.offline_grace_ms;
    let deadlines = crate::accept::Deadlines {
        header: Duration::from_millis(state.config.header_read_timeout_ms),
        body: Duration::from_millis(state.config.body_read_timeout_ms),
    };
    tokio::spawn(crate::gateway::reaper::run(state.clone()));
    tokio::spawn(crate::token_sweeper::run(state.clone()));
    let app = router(state);
    tracing::info!(%node, addr = %listener.local_addr()?, "listening");
    let signal = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: telling clients to reconnect");
        signal.cancel();
        hub.close_all(CloseCode::ServerShutdown);
    });
    crate::accept::serve(listener, app, deadlines, token).await;
    sessions.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, sessions.wait())
        .await
        .is_err()
    {
        tracing::warn!(left = sessions.len(), "drain timeout: sessions still open");
    }
    // The offline checks of the users whose connections just closed run
    // here or nowhere: wait them out, unless they reconnected elsewhere.
    let pending = presence.pending();
    if pending > 0 {
        tracing::info!(pending, "waiting for pending offline checks");
        let wait = Duration::from_millis(grace_ms) + OFFLINE_CHECK_MARGIN;
        if tokio::time::timeout(wait, presence.finish_pending())
            .await
            .is_err()
        {
            tracing::warn!(
                left = presence.pending(),
                "offline checks still pending at exit"
            );
        }
    }
    tracing::info!("stopped");
    Ok(())
}
