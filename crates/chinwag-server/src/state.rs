//! [`AppState`]: what every handler and session shares.

use std::sync::Arc;
use std::time::Duration;

use chinwag_realtime::engine::HistoryConfig;
use chinwag_realtime::{Hub, NodeId, OutboxConfig, PresenceTracker};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{TokenKeys, load_or_create_secret};
use crate::config::Config;
use crate::policy::{OpenPolicy, Policy};

/// Shared server state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The configuration.
    pub config: Arc<Config>,
    /// The real-time hub.
    pub hub: Hub,
    /// Presence.
    pub presence: Arc<PresenceTracker>,
    /// Token signing and checking.
    pub keys: TokenKeys,
    /// Permission checks for the stream.
    pub policy: Arc<dyn Policy>,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// Every live WebSocket session, so shutdown can wait for them.
    pub sessions: TaskTracker,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("node", &self.hub.node().name())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state for a config: the signing secret (generated in the
    /// data directory if not configured), the hub on its engine, presence,
    /// and the given policy.
    pub async fn build(config: Config, policy: Arc<dyn Policy>) -> anyhow::Result<AppState> {
        let secret = match &config.auth.jwt_secret {
            Some(secret) if secret.len() >= 32 => secret.clone(),
            Some(_) => anyhow::bail!("auth.jwt_secret must be at least 32 characters"),
            None => load_or_create_secret(&config.data_dir)?,
        };
        let keys = TokenKeys::new(secret.as_bytes(), config.auth.access_ttl_secs);
        let node = NodeId::generate(config.node_name.as_deref());
        let outbox = OutboxConfig {
            capacity: config.gateway.outbox_capacity,
            ephemeral_headroom: config.gateway.outbox_ephemeral_headroom,
        };
        let history = HistoryConfig {
            max_len: config.history.max_len,
            max_age: Duration::from_secs(config.history.max_age_secs),
        };
        let hub = match config.engine.as_str() {
            "memory" | "" => Hub::memory(node, outbox, history),
            other => anyhow::bail!("unsupported engine `{other}` in this build"),
        };
        let rooms_policy = policy.clone();
        let presence = PresenceTracker::new(
            hub.clone(),
            Duration::from_millis(config.presence.offline_grace_ms),
            Arc::new(move |user| {
                let policy = rooms_policy.clone();
                Box::pin(async move { policy.presence_rooms(user).await })
            }),
        );
        tracing::info!(node = hub.node().name(), engine = %config.engine, "hub started");
        Ok(AppState {
            config: Arc::new(config),
            hub,
            presence,
            keys,
            policy,
            shutdown: CancellationToken::new(),
            sessions: TaskTracker::new(),
        })
    }

    /// Builds the state with the foundation's [`OpenPolicy`].
    pub async fn open(config: Config) -> anyhow::Result<AppState> {
        Self::build(config, Arc::new(OpenPolicy)).await
    }
}
