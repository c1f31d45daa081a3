//! Typed configuration. Every field has a documented default, so an empty
//! config runs a single node on SQLite with the in-memory engine.
//!
//! Sources, later ones winning: defaults, a TOML file (`--config`), then
//! environment variables `CHINWAG_*` with `__` between levels, e.g.
//! `CHINWAG_GATEWAY__HEARTBEAT_INTERVAL_MS=15000`, then command-line flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use chinwag_realtime::engine::HistoryConfig;

mod check;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:7400`.
    pub listen: SocketAddr,
    /// Connections the kernel may queue before they are accepted (the
    /// kernel caps it at `net.core.somaxconn`). When every client of a
    /// restarted node reconnects at once, a short queue drops SYNs and
    /// those clients wait a second for the retry. Default 4096.
    pub listen_backlog: u32,
    /// Directory for the database and the generated JWT secret. Created if
    /// missing. Default `./data`.
    pub data_dir: PathBuf,
    /// This node's name in logs and health. Default: `node-` + random tag.
    pub node_name: Option<String>,
    /// Database URL: `sqlite://path` or `postgres://...`. Default: SQLite
    /// in the data directory.
    pub database_url: Option<String>,
    /// Database connections this node keeps open at most. On PostgreSQL,
    /// every node of a cluster opens this many. On an SQLite file, the
    /// readers: writes go through one more connection, and WAL checkpoints
    /// through another. Default 8.
    pub database_max_connections: u32,
    /// How long a client may take to send a request's headers, and how
    /// long an idle keep-alive HTTP connection stays open. A socket that
    /// sends nothing is closed after it. 0 turns the deadline off (not
    /// for a server facing the internet). Default 10000.
    pub header_read_timeout_ms: u64,
    /// How long a client may take to send a request's body, from its
    /// headers; then the request fails with 400 and the connection closes.
    /// 0 turns the deadline off. Default 30000.
    pub body_read_timeout_ms: u64,
    /// Engine URL: `memory` (default), `redis://...` or `nats://...`.
    pub engine: String,
    /// Namespace for the engine's keys and subjects; every node of one
    /// cluster uses the same. Default `chinwag`.
    pub engine_prefix: String,
    /// Authentication.
    pub auth: AuthConfig,
    /// WebSocket gateway limits and timings.
    pub gateway: GatewayConfig,
    /// Room stream history.
    pub history: HistorySettings,
    /// Presence.
    pub presence: PresenceConfig,
    /// Serve `GET /metrics` (Prometheus text format) on the listen
    /// address. Default true; block the path at the proxy, or turn it off,
    /// where it should not be public.
    pub metrics: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:7400".parse().expect("valid default address"),
            listen_backlog: 4096,
            data_dir: PathBuf::from("data"),
            node_name: None,
            database_url: None,
            database_max_connections: 8,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            engine: "memory".into(),
            engine_prefix: "chinwag".into(),
            auth: AuthConfig::default(),
            gateway: GatewayConfig::default(),
            history: HistorySettings::default(),
            presence: PresenceConfig::default(),
            metrics: true,
        }
    }
}

/// Authentication settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// HS256 signing secret. Default: generated once and kept in
    /// `<data_dir>/jwt_secret`.
    pub jwt_secret: Option<String>,
    /// Access token lifetime in seconds. Default 900.
    pub access_ttl_secs: u64,
    /// Refresh token lifetime in seconds. Default 30 days. Expired tokens
    /// are deleted an access token's lifetime later ([`crate::token_sweeper`]).
    pub refresh_ttl_secs: u64,
    /// Register, login and refresh attempts allowed per client address per
    /// minute, on average (0: no limit); IPv6 clients share one per /64.
    /// Default 10.
    pub attempts_per_minute: u32,
    /// Attempts a client address may make in a burst. Default 20.
    pub attempts_burst: u32,
    /// Take the client address from the last `X-Forwarded-For` entry (set
    /// it behind a reverse proxy that appends one, like
    /// `deploy/nginx/chinwag.conf`). Default false: the peer address.
    pub trust_forwarded_for: bool,
    /// Authenticated writes allowed per user per minute, on average (0: no
    /// limit): REST `POST`, `PUT`, `PATCH` and `DELETE`, and the WebSocket
    /// `send_message` and `set_status`, from one bucket per user. Default 600.
    pub writes_per_minute: u32,
    /// Writes a user may make in a burst. Default 60.
    pub writes_burst: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: None,
            access_ttl_secs: 900,
            refresh_ttl_secs: 30 * 24 * 3600,
            attempts_per_minute: 10,
            attempts_burst: 20,
            trust_forwarded_for: false,
            writes_per_minute: 600,
            writes_burst: 60,
        }
    }
}

/// Gateway limits and timings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayConfig {
    /// Clients send `ping` at least this often. Default 20000 ms.
    pub heartbeat_interval_ms: u64,
    /// A connection silent for this long is closed with 4009, and a write
    /// the client does not take in within it ends the connection. Default
    /// 45000 ms.
    pub heartbeat_timeout_ms: u64,
    /// `identify` must arrive within this. Default 10000 ms.
    pub identify_timeout_ms: u64,
    /// Largest accepted frame in bytes (larger closes with 1009). Default
    /// 65536.
    pub max_frame_bytes: usize,
    /// Sustained client frames per second. Default 20.
    pub rate_per_sec: u32,
    /// Burst of client frames allowed above the rate. Default 60.
    pub rate_burst: u32,
    /// Consecutive invalid frames before closing with 4002. Default 10.
    pub max_invalid_frames: u32,
    /// Topics one connection may be subscribed to at once. Default 128.
    pub max_topics: usize,
    /// Outbox capacity in frames. Default 1024.
    pub outbox_capacity: usize,
    /// Ephemeral events are dropped while fewer outbox slots are free.
    /// Default 256.
    pub outbox_ephemeral_headroom: usize,
    /// Frames written per flush at most. Default 128.
    pub write_batch: usize,
    /// How long a closing connection may take to flush its last frames,
    /// and then to wait for the client's close frame. Default 2000 ms.
    pub close_timeout_ms: u64,
    /// WebSocket connections this node holds at most; an upgrade beyond
    /// it gets HTTP 503. Default 0: the open-file limit less 512.
    pub max_connections: usize,
    /// Connections one user may hold at once, on all nodes together; an
    /// identify beyond it is refused (`RATE_LIMITED`, then 4008). Default
    /// 64.
    pub max_connections_per_user: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            heartbeat_interval_ms: 20_000,
            heartbeat_timeout_ms: 45_000,
            identify_timeout_ms: 10_000,
            max_frame_bytes: 64 * 1024,
            rate_per_sec: 20,
            rate_burst: 60,
            max_invalid_frames: 10,
            max_topics: 128,
            max_connections_per_user: 64,
            outbox_capacity: 1024,
            outbox_ephemeral_headroom: 256,
            write_batch: 128,
            close_timeout_ms: 2000,
            max_connections: 0,
        }
    }
}

/// Room stream history.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HistorySettings {
    /// Events kept per room. Default 10,000.
    pub max_len: usize,
    /// Events older than this are dropped. Default 600 s.
    pub max_age_secs: u64,
}

impl Default for HistorySettings {
    fn default() -> Self {
        let engine = HistoryConfig::default();
        HistorySettings {
            max_len: engine.max_len,
            max_age_secs: engine.max_age.as_secs(),
        }
    }
}

/// Presence settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PresenceConfig {
    /// How long after the last connection closes `USER_OFFLINE` is sent.
    /// Default 5000 ms.
    pub offline_grace_ms: u64,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig {
            offline_grace_ms: 5000,
        }
    }
}

/// The prefix of the environment variables that set settings.
const ENV_PREFIX: &str = "CHINWAG_";

impl Config {
    /// Loads defaults, then the TOML file if given, then `CHINWAG_*`.
    pub fn load(file: Option<&std::path::Path>) -> Result<Config, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::prefixed(ENV_PREFIX).split("__"))
            .extract()
            .map_err(Box::new)
    }
}

/// `url` with any password replaced by `***`, for logs and errors
/// (`redis://user:secret@host` → `redis://user:***@host`).
pub fn redacted(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let Some(at) = url[scheme_end..authority_end]
        .rfind('@')
        .map(|i| scheme_end + i)
    else {
        return url.to_string();
    };
    match url[scheme_end..at].find(':').map(|i| scheme_end + i) {
        Some(colon) => format!("{}:***{}", &url[..colon], &url[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the error type
    fn defaults_load_and_env_overrides() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CHINWAG_GATEWAY__RATE_BURST", "7");
            jail.set_env("CHINWAG_LISTEN", "127.0.0.1:9999");
            jail.set_env("CHINWAG_DATABASE_MAX_CONNECTIONS", "3");
            let config = Config::load(None).map_err(|e| *e)?;
            assert_eq!(config.database_max_connections, 3);
            assert_eq!(config.gateway.rate_burst, 7);
            assert_eq!(config.listen.port(), 9999);
            assert_eq!(config.engine, "memory");
            Ok(())
        });
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redacted("redis://default:S3cret@127.0.0.1:6379/0"),
            "redis://default:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            redacted("nats://admin:p@ss@host:4222"),
            "nats://admin:***@host:4222"
        );
        assert_eq!(redacted("nats://token@host"), "nats://token@host");
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redacted("memory"), "memory");
    }
}
