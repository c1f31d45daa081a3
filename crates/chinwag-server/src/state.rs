//! [`AppState`]: what every handler and session shares, and
//! [`ChatPolicy`], the chat domain's answer to the gateway's [`Policy`]
//! questions.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chinwag_chat::Chat;
use chinwag_protocol::Id;
use chinwag_realtime::engine::HistoryConfig;
use chinwag_realtime::{Hub, NodeId, OutboxConfig, PresenceTracker, RoomId, SharedFrame};
use chinwag_store::{Store, StoreOptions};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ApiError;
use crate::auth::{Identity, TokenError, TokenKeys, load_or_create_secret};
use crate::config::Config;
use crate::gateway::capacity::Capacity;
use crate::http::throttle::{Buckets, Throttle, Verdict};
use crate::metrics::Metrics;
use crate::policy::{BoxFuture, Policy, is_public_topic};

/// How long startup waits for the engine's broker (Redis retries an
/// unreachable address forever otherwise).
const ENGINE_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Shared server state: one pointer, cheap to clone. Every session holds
/// one, so it is an `Arc` rather than a struct of `Arc`s.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What [`AppState`] points to.
pub struct SharedState {
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
    /// The chat domain services (and through them, the store).
    pub chat: Chat,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// Every live WebSocket session, so shutdown can wait for them.
    pub sessions: TaskTracker,
    /// The connection slots (`gateway.max_connections`).
    pub capacity: Capacity,
    /// Per-address limits on register, login and refresh.
    pub throttle: Throttle,
    /// Limits authenticated REST writes per user.
    pub writes: Buckets<Id>,
    /// The counts behind `GET /metrics`.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Checks an access token: signature, expiry, and that its session
    /// has not been signed out.
    pub fn verify_token(&self, token: &str) -> Result<Identity, TokenError> {
        let who = self.keys.verify(token)?;
        if self
            .hub
            .revocations()
            .is_revoked(who.user_id, who.session, who.issued_at_secs)
        {
            return Err(TokenError::Revoked);
        }
        Ok(who)
    }

    /// Takes one token from `user`'s write bucket (`auth.writes_per_minute`),
    /// which REST writes and the WebSocket `send_message` share. Refused
    /// with `RATE_LIMITED` and the wait; only the first refusal of a run is
    /// logged, naming `what` was refused.
    pub fn take_write(&self, user: Id, what: &str) -> Result<(), ApiError> {
        let verdict = self.writes.check(user);
        if verdict.allowed() {
            return Ok(());
        }
        if verdict == Verdict::FirstRefusal {
            tracing::warn!(user = %user, what, "writes over the limit (further refusals not logged until it is back under)");
        }
        let wait = self.writes.retry_after_secs();
        Err(ApiError::rate_limited(
            format!("too many writes; retry in {wait} s"),
            wait,
        ))
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("node", &self.hub.node().name())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state for a config with the given stream policy: the
    /// store (see [`AppState::open_store`]), the signing secret (generated
    /// in the data directory if not configured), the hub on its engine,
    /// presence and the chat services.
    pub async fn build(config: Config, policy: Arc<dyn Policy>) -> anyhow::Result<AppState> {
        let store = Self::open_store(&config).await?;
        Self::assemble(config, store, move |_| policy).await
    }

    /// Builds the chat-backed state: the store from the config and the
    /// [`ChatPolicy`].
    pub async fn open(config: Config) -> anyhow::Result<AppState> {
        let store = Self::open_store(&config).await?;
        Self::with_store(config, store).await
    }

    /// Builds the chat-backed state on a store the caller opened (tests
    /// use this to give each PostgreSQL test its own schema).
    pub async fn with_store(config: Config, store: Store) -> anyhow::Result<AppState> {
        Self::assemble(config, store, |chat| {
            Arc::new(ChatPolicy::new(chat.clone()))
        })
        .await
    }

    /// Opens the configured database: `database_url`, or by default the
    /// SQLite file `<data_dir>/chinwag.db` (the directory is created).
    pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
        let url = match &config.database_url {
            Some(url) => url.clone(),
            None => {
                std::fs::create_dir_all(&config.data_dir).with_context(|| {
                    format!("creating data directory {}", config.data_dir.display())
                })?;
                config.data_dir.join("chinwag.db").display().to_string()
            }
        };
        let options = StoreOptions {
            max_connections: config.database_max_connections,
            ..StoreOptions::default()
        };
        let store = Store::open_with(&url, options)
            .await
            .with_context(|| format!("opening the database {}", crate::config::redacted(&url)))?;
        tracing::info!(
            backend = ?store.backend(),
            database = %crate::config::redacted(&url),
            node_id = store.node_id(),
            "store opened"
        );
        Ok(store)
    }

    async fn assemble(
        config: Config,
        store: Store,
        make_policy: impl FnOnce(&Chat) -> Arc<dyn Policy>,
    ) -> anyhow::Result<AppState> {
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
        let engine = crate::config::redacted(&config.engine);
        let connecting = Hub::connect(&config.engine, node, outbox, history, &config.engine_prefix);
        let hub = tokio::time::timeout(ENGINE_CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| {
                anyhow::anyhow!("engine {engine}: not reachable within {ENGINE_CONNECT_TIMEOUT:?}")
            })?
            .map_err(|err| anyhow::anyhow!("engine {engine}: {err}"))?;
        // Sessions signed out within a token's lifetime, perhaps before
        // this node started: their tokens are refused here too.
        let token_lifetime = Duration::from_secs(config.auth.access_ttl_secs);
        let since_ms = crate::auth::now_ms() - token_lifetime.as_millis() as i64;
        let signed_out = store
            .signed_out_sessions(since_ms)
            .await
            .context("reading signed-out sessions")?;
        tracing::info!(sessions = signed_out.len(), "signed-out sessions loaded");
        hub.revocations().set_token_lifetime(token_lifetime);
        hub.revocations().preload(
            signed_out
                .into_iter()
                .map(|(session, at_ms)| (session, (at_ms / 1000) as u64)),
        );
        let chat = Chat::new(store, hub.clone()).with_refresh_ttl(config.auth.refresh_ttl_secs);
        let policy = make_policy(&chat);
        let rooms_policy = policy.clone();
        let voice_chat = chat.clone();
        let presence = PresenceTracker::new(
            hub.clone(),
            Duration::from_millis(config.presence.offline_grace_ms),
            Arc::new(move |user| {
                let policy = rooms_policy.clone();
                Box::pin(async move { policy.presence_rooms(user).await })
            }),
            // A user gone from every node leaves voice too, whichever node
            // saw the last connection go (or reaped it from a dead node).
            Some(Arc::new(move |user| {
                let chat = voice_chat.clone();
                Box::pin(async move {
                    if let Err(err) = chat.leave_voice(user).await {
                        tracing::warn!(%err, %user, "leaving voice after going offline failed");
                    }
                })
            })),
        );
        tracing::info!(node = hub.node().name(), %engine, "hub started");
        // Voice follows presence: users the store has in voice with no
        // connection anywhere once the grace period is over (left there by
        // a node that was killed, say) leave voice then.
        let in_voice = chat
            .store()
            .users_in_voice()
            .await
            .context("reading voice states")?;
        if !in_voice.is_empty() {
            tracing::info!(
                users = in_voice.len(),
                "checking that the users in voice are still connected"
            );
        }
        for user in in_voice {
            presence.check_offline(user, None);
        }
        let throttle = Throttle::new(
            config.auth.attempts_per_minute,
            config.auth.attempts_burst,
            config.auth.trust_forwarded_for,
        );
        let config_writes = (config.auth.writes_per_minute, config.auth.writes_burst);
        let capacity = Capacity::new(config.gateway.max_connections);
        tracing::info!(max_connections = capacity.max(), "connection slots");
        Ok(AppState(Arc::new(SharedState {
            config: Arc::new(config),
            hub,
            presence,
            keys,
            policy,
            chat,
            shutdown: CancellationToken::new(),
            sessions: TaskTracker::new(),
            capacity,
            throttle,
            writes: Buckets::new(config_writes.0, config_writes.1),
            metrics: Arc::default(),
        })))
    }
}

/// The chat domain's stream policy: a user's connections join their
/// communities, the channels they see and their DMs; presence goes to
/// their communities and DMs; `public.*` topics are open to everyone.
#[derive(Debug, Clone)]
pub struct ChatPolicy {
    chat: Chat,
}

impl ChatPolicy {
    /// A policy answering from `chat`.
    pub fn new(chat: Chat) -> ChatPolicy {
        ChatPolicy { chat }
    }
}

impl Policy for ChatPolicy {
    fn rooms_for<'a>(&'a self, who: &'a Identity) -> BoxFuture<'a, Result<Vec<RoomId>, ApiError>> {
        Box::pin(async move { Ok(self.chat.rooms_for(who.user_id).await?) })
    }

    fn can_subscribe<'a>(&'a self, _who: &'a Identity, topic: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move { is_public_topic(topic) })
    }

    fn can_publish<'a>(&'a self, _who: &'a Identity, topic: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move { is_public_topic(topic) })
    }

    fn can_replay(&self, _who: &Identity, _frame: &SharedFrame) -> bool {
        // Rooms are re-checked before a resume; events within a room the
        // user still belongs to are all theirs to see.
        true
    }

    fn presence_rooms<'a>(&'a self, user: Id) -> BoxFuture<'a, Vec<RoomId>> {
        Box::pin(async move {
            self.chat.presence_rooms(user).await.unwrap_or_else(|err| {
                tracing::error!(%user, %err, "presence rooms lookup failed");
                Vec::new()
            })
        })
    }

    fn presence_rooms_among(&self, joined: &[RoomId]) -> Option<Vec<RoomId>> {
        Some(Chat::presence_rooms_among(joined))
    }
}
