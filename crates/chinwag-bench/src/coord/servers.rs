//! Starting and stopping the servers under test, each as its own process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::client::Proto;

/// The servers the bench knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Chinwag (`chinwag serve`).
    Chinwag,
    /// Socket.IO 4 on Node.
    SocketIo,
    /// socketioxide 0.18 on axum.
    Socketioxide,
    /// The raw tokio ceiling.
    Raw,
}

impl Kind {
    /// Every kind, Chinwag first.
    pub const ALL: [Kind; 4] = [Kind::Chinwag, Kind::SocketIo, Kind::Socketioxide, Kind::Raw];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chinwag => "Chinwag",
            Kind::SocketIo => "Socket.IO (Node)",
            Kind::Socketioxide => "socketioxide",
            Kind::Raw => "raw ceiling",
        }
    }

    /// The wire the bench clients speak to it.
    pub fn proto(self) -> Proto {
        match self {
            Kind::Chinwag | Kind::Raw => Proto::Chinwag,
            Kind::SocketIo | Kind::Socketioxide => Proto::SocketIo,
        }
    }
}

/// Options for one server process.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Socket.IO: enable connection-state recovery.
    pub recovery: bool,
    /// Cluster: the Redis URL (the Socket.IO and socketioxide Redis
    /// adapters, Chinwag's engine).
    pub redis_url: Option<String>,
    /// Cluster: the NATS URL (Chinwag engine).
    pub nats_url: Option<String>,
    /// Cluster: a node id.
    pub node_id: Option<String>,
    /// Chinwag: the database URL (default: SQLite in the data directory).
    pub database_url: Option<String>,
    /// Tokio servers (Chinwag, socketioxide): runtime worker threads
    /// (`TOKIO_WORKER_THREADS`; default one per core).
    pub worker_threads: Option<usize>,
}

/// Where binaries and scratch files are.
#[derive(Debug, Clone)]
pub struct Env {
    /// The `chinwag` binary, if built.
    pub chinwag_bin: Option<PathBuf>,
    /// Directory with `bench-raw` and `bench-socketioxide`.
    pub bin_dir: PathBuf,
    /// The Node peer's directory.
    pub node_dir: PathBuf,
    /// Scratch directory for logs and data.
    pub scratch: PathBuf,
    /// The JWT secret every server is given.
    pub secret: String,
}

/// A running server; killed when dropped.
pub struct Server {
    /// Which server.
    pub kind: Kind,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    /// Its log file.
    pub log: PathBuf,
}

impl Server {
    /// Its process id (for `/proc` sampling).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        // Skip backtrace frames: the message is what matters.
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.trim().is_empty())
            .collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }
}

/// At most this many of a log's warnings are kept.
const WARNINGS_KEPT: usize = 20;

impl Server {
    /// Its log's warnings and errors (Chinwag's `WARN` and `ERROR` lines,
    /// without colour codes): the first 20, then a count of
    /// the rest.
    pub fn log_warnings(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        warnings(&text)
    }
}

/// See [`Server::log_warnings`].
fn warnings(log: &str) -> Vec<String> {
    let all: Vec<String> = log
        .lines()
        .map(strip_ansi)
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    let more = all.len().saturating_sub(WARNINGS_KEPT);
    let mut kept: Vec<String> = all.into_iter().take(WARNINGS_KEPT).collect();
    if more > 0 {
        kept.push(format!("… and {more} more"));
    }
    kept
}

/// `line` without ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Installs the Node peer's packages with `npm ci` when missing.
pub fn ensure_node_peer(dir: &Path) -> Result<()> {
    if dir.join("node_modules/socket.io").exists() {
        return Ok(());
    }
    eprintln!(
        "installing the Socket.IO peer (npm ci) in {}",
        dir.display()
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .context("running npm")?;
    if !status.success() {
        bail!("npm ci failed in {}", dir.display());
    }
    Ok(())
}

/// Starts a server and waits until it accepts connections.
pub fn start(env: &Env, kind: Kind, opts: &Options) -> Result<Server> {
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let tag = opts.node_id.clone().unwrap_or_else(|| "single".into());
    let log = env
        .scratch
        .join(format!("{kind:?}-{tag}-{port}.log").to_lowercase());
    let logf = std::fs::File::create(&log)?;
    let mut cmd = match kind {
        Kind::Chinwag => {
            let bin = env
                .chinwag_bin
                .clone()
                .context("the chinwag binary is not built")?;
            let data = env.scratch.join(format!("chinwag-data-{port}"));
            std::fs::create_dir_all(&data)?;
            let mut c = Command::new(bin);
            c.args(["serve", "--listen", &addr.to_string(), "--data-dir"])
                .arg(&data)
                .env("CHINWAG_LISTEN", addr.to_string())
                .env("CHINWAG_AUTH__JWT_SECRET", &env.secret)
                .env("RUST_LOG", "warn")
                .env("RUST_BACKTRACE", "0")
                // The publisher is one connection sending thousands of
                // frames a second: lift the per-connection rate limit
                // (the peers have none).
                .env("CHINWAG_GATEWAY__RATE_PER_SEC", "10000000")
                .env("CHINWAG_GATEWAY__RATE_BURST", "10000000")
                // The chat setup registers 10k users from one address.
                .env("CHINWAG_AUTH__ATTEMPTS_PER_MINUTE", "0");
            if let Some(url) = &opts.database_url {
                c.args(["--database-url", url]);
            }
            if let Some(id) = &opts.node_id {
                c.args(["--node-name", id]);
            }
            if let Some(url) = opts.redis_url.as_ref().or(opts.nats_url.as_ref()) {
                c.args(["--engine", url]);
            }
            c
        }
        Kind::SocketIo => {
            let mut c = Command::new("node");
            c.arg("server.js")
                .current_dir(&env.node_dir)
                .env("PORT", port.to_string())
                .env("JWT_SECRET", &env.secret)
                .env("NODE_ENV", "production");
            if opts.recovery {
                c.env("SIO_RECOVERY", "1");
            }
            if let Some(url) = &opts.redis_url {
                c.env("REDIS_URL", url);
            }
            c
        }
        Kind::Socketioxide | Kind::Raw => {
            let name = if kind == Kind::Raw {
                "bench-raw"
            } else {
                "bench-socketioxide"
            };
            let mut c = Command::new(env.bin_dir.join(name));
            c.args(["--listen", &addr.to_string()])
                .env("BENCH_JWT_SECRET", &env.secret);
            if let (Kind::Socketioxide, Some(redis)) = (kind, &opts.redis_url) {
                c.args(["--redis", redis]);
            }
            c
        }
    };
    if let (Kind::Chinwag | Kind::Socketioxide, Some(n)) = (kind, opts.worker_threads) {
        cmd.env("TOKIO_WORKER_THREADS", n.to_string());
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(logf.try_clone()?)
        .stderr(logf)
        .spawn()
        .with_context(|| format!("starting {}", kind.name()))?;
    let mut server = Server {
        kind,
        addr,
        child,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(server);
        }
        if let Some(status) = server.child.try_wait()? {
            bail!(
                "{} exited at start ({status}):\n{}",
                kind.name(),
                server.log_tail()
            );
        }
        if Instant::now() > deadline {
            bail!("{} did not listen within 60 s", kind.name());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A helper service (Redis, NATS) on a free port; killed when dropped.
pub struct Service {
    /// `redis://…` or `nats://…`.
    pub url: String,
    child: Child,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `redis-server` (no persistence) on a free loopback port.
pub fn start_redis(scratch: &Path) -> Result<Service> {
    let port = free_port()?;
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .current_dir(scratch)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting redis-server")?;
    wait_port(port)?;
    Ok(Service {
        url: format!("redis://127.0.0.1:{port}"),
        child,
    })
}

/// Starts `nats-server` with JetStream on a free loopback port.
pub fn start_nats(scratch: &Path) -> Result<Service> {
    let port = free_port()?;
    let store = scratch.join(format!("nats-{port}"));
    std::fs::create_dir_all(&store)?;
    let child = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(&store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting nats-server")?;
    wait_port(port)?;
    Ok(Service {
        url: format!("nats://127.0.0.1:{port}"),
        child,
    })
}

fn wait_port(port: u16) -> Result<()> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nothing listened on port {port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_picked_out_of_a_coloured_log_and_capped() {
        let mut log = String::from(
            "2026-11-25T02:00:00Z  \u{1b}[32m INFO\u{1b}[0m chinwag: listening\n\
             2026-11-25T02:00:01Z  \u{1b}[33m WARN\u{1b}[0m \u{1b}[2mchinwag_store::sqlite\u{1b}[0m: a slow WAL checkpoint \u{1b}[3mtook_ms\u{1b}[0m\u{1b}[2m=\u{1b}[0m812\n",
        );
        assert_eq!(
            warnings(&log),
            [
                "2026-11-25T02:00:01Z   WARN chinwag_store::sqlite: a slow WAL checkpoint took_ms=812"
            ]
        );
        for i in 0..WARNINGS_KEPT + 2 {
            log.push_str(&format!("t ERROR chinwag: failure {i}\n"));
        }
        let kept = warnings(&log);
        assert_eq!(kept.len(), WARNINGS_KEPT + 1);
        assert_eq!(kept[1], "t ERROR chinwag: failure 0");
        assert_eq!(kept[WARNINGS_KEPT], "… and 3 more");
    }
}
