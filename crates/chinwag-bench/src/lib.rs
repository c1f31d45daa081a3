//! `chinwag-bench`: the load generator that compares Chinwag with its
//! peers (Socket.IO on Node, socketioxide, and a raw tokio ceiling), and the
//! peer servers themselves. `publish = false`; see `docs/benchmarks.md`.
//!
//! # Layout
//! - [`hist`]: a mergeable log-linear latency histogram.
//! - [`scan`]: allocation-free field extraction for the receive hot path.
//! - [`eio`]: Engine.IO v4 / Socket.IO v5 framing, by hand.
//! - [`client`]: protocol adapters (Chinwag wire, Socket.IO).
//! - [`jwt`]: HS256 tokens.
//! - [`worker`]: a client-holding worker process (JSON lines on stdio).
//! - [`procstat`]: server CPU and RSS from `/proc`.
//! - [`svg`]: the latency plot.
//! - [`raw`]: the raw ceiling server; [`sioxide`]: the socketioxide peer.
//! - [`coord`]: the coordinator: servers, worker pool, publisher, progress.
//! - [`scenario`]: the scenarios and their results.
//! - [`compare`]: runs them all; [`report`]: writes `docs/benchmarks.md`.

pub mod client;
pub mod compare;
pub mod coord;
pub mod eio;
pub mod hist;
pub mod jwt;
pub mod procstat;
pub mod raw;
pub mod report;
pub mod scan;
pub mod scenario;
pub mod sioxide;
pub mod svg;
pub mod worker;

/// The accept queue every peer listens with: Chinwag's default
/// (`listen_backlog`), so no server drops SYNs in the resume scenario's
/// reconnect storm where another would not.
pub const LISTEN_BACKLOG: u32 = 4096;

/// A listener on `addr` with [`LISTEN_BACKLOG`] (tokio's own `bind` queues
/// 128), for the peer servers.
pub fn listen(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let addr: std::net::SocketAddr = addr.parse().map_err(std::io::Error::other)?;
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
