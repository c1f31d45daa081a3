//! Accounts: register, log in, rotate refresh tokens, log out.
//!
//! Access tokens (JWTs) are the server's business; this module owns the
//! users and the refresh tokens, which are stored only as hashes. One
//! login starts a session: its refresh tokens rotate within it, and
//! signing it out closes its live connections.

use chinwag_protocol::model::User;
use chinwag_protocol::{Id, Timestamp};
use chinwag_store::{NewUser, StoreError, generate_token, hash_password, verify_password};

use crate::chat::Chat;
use crate::error::{ChatError, Result};
use crate::validate;

/// A signed-in user: the profile and a fresh refresh token.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user.
    pub user: User,
    /// The sign-in session; access tokens name it so that signing it out
    /// can close its connections.
    pub session_id: Id,
    /// The refresh token (shown once; only its hash is stored).
    pub refresh_token: String,
    /// When the refresh token stops working.
    pub refresh_expires_at: Timestamp,
}

/// A hash to check passwords against when the user does not exist, so a
/// login takes as long whether or not the username is known.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a real password").unwrap_or_default())
}

fn bad_credentials() -> ChatError {
    ChatError::Unauthorized("invalid username or password".into())
}

/// A job for the hashing threads.
type HashJob = Box<dyn FnOnce() + Send>;

/// Runs password hashing off the async threads, on one long-lived thread
/// per core. Each argon2 hash takes ~19 MiB; on short-lived blocking
/// threads every new thread's allocator arena kept its own copy (seen: 830
/// MiB RSS after registering 1,000 users), and unbounded they would also
/// starve everything else during a burst of registrations or logins.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    static HASHERS: std::sync::OnceLock<std::sync::mpsc::Sender<HashJob>> =
        std::sync::OnceLock::new();
    let jobs = HASHERS.get_or_init(|| {
        let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        for i in 0..cores {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("chinwag-hash-{i}"))
                .spawn(move || {
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match next {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(%err, "starting a password hashing thread failed");
            }
        }
        jobs
    });
    let failed = |e: String| ChatError::Store(StoreError::PasswordHash(e));
    let (done, result) = tokio::sync::oneshot::channel();
    jobs.send(Box::new(move || {
        let _ = done.send(f());
    }))
    .map_err(|e| failed(e.to_string()))?;
    result.await.map_err(|e| failed(e.to_string()))
}

impl Chat {
    /// Creates an account. The username is 3..=32 of `[a-z0-9_]`, the
    /// password 8..=256 characters; `CONFLICT` if the name is taken.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<Session> {
        validate::username(username)?;
        validate::password(password)?;
        let display_name = match display_name {
            Some(name) => validate::name("display name", name)?,
            None => username.to_owned(),
        };
        let password = password.to_owned();
        let hash = blocking(move || hash_password(&password)).await??;
        let user = self
            .store
            .create_user(NewUser {
                username: username.to_owned(),
                display_name,
                password_hash: Some(hash),
                bot: false,
            })
            .await
            .map_err(|err| match err {
                StoreError::Conflict(_) => ChatError::Conflict("username is taken".into()),
                other => other.into(),
            })?;
        self.start_session(user).await
    }

    /// Checks a username and password; `UNAUTHORIZED` if either is wrong.
    pub async fn login(&self, username: &str, password: &str) -> Result<Session> {
        let creds = match self.store.credentials_by_username(username).await {
            Ok(creds) => Some(creds),
            Err(StoreError::NotFound) => None,
            Err(err) => return Err(err.into()),
        };
        let hash = creds.as_ref().and_then(|c| c.password_hash.clone());
        let password = password.to_owned();
        let matches = blocking(move || match hash {
            Some(hash) => verify_password(&password, &hash),
            None => {
                verify_password(&password, dummy_hash());
                false
            }
        })
        .await?;
        match creds {
            Some(creds) if matches => self.start_session(creds.user).await,
            _ => Err(bad_credentials()),
        }
    }

    /// Trades a live refresh token for a new one. The old one stops
    /// working; presenting it again means it leaked, and signs out every
    /// session of its user (all their refresh tokens are revoked).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session> {
        let now = chinwag_store::id::now_ms();
        let new = generate_token();
        let expires = now.saturating_add(self.refresh_ttl_ms);
        let rotated = self
            .store
            .rotate_refresh_token(refresh_token, &new, expires, now)
            .await;
        let record = match rotated {
            Ok(record) => record,
            Err(StoreError::NotFound) => {
                // A token rotated away and presented again has leaked (or
                // is replayed): whoever holds its successor may not be the
                // user, so every session of the user ends.
                if let Some((user, revoked)) = self.store.revoke_on_reuse(refresh_token).await? {
                    tracing::warn!(%user, revoked, "rotated refresh token used again: signed out every session");
                    self.close_sessions(user, None).await;
                }
                return Err(ChatError::Unauthorized(
                    "refresh token is invalid or expired".into(),
                ));
            }
            Err(other) => return Err(other.into()),
        };
        let user = self.store.user(record.user_id).await?;
        Ok(Session {
            user,
            session_id: record.session_id,
            refresh_token: new,
            refresh_expires_at: expires,
        })
    }

    /// Revokes a refresh token and closes the live connections of its
    /// session (4012); returns whether it was live.
    pub async fn logout(&self, refresh_token: &str) -> Result<bool> {
        let Some((user, session)) = self.store.revoke_refresh_token(refresh_token).await? else {
            return Ok(false);
        };
        tracing::info!(%user, %session, "signed out");
        self.close_sessions(user, Some(session)).await;
        Ok(true)
    }

    /// Closes the live connections of a revoked session (all of the user's
    /// when `None`) on every node. The revocation is already stored, so a
    /// failure here is logged: those connections end at token expiry.
    async fn close_sessions(&self, user: Id, session: Option<Id>) {
        if let Err(err) = self.hub.revoke_session(user, session).await {
            tracing::error!(%user, ?session, %err, "could not close the revoked session's connections");
        }
    }

    /// A user's public profile.
    pub async fn user(&self, user: chinwag_protocol::Id) -> Result<User> {
        use crate::error::OrNotFound as _;
        self.store.user(user).await.or_not_found("user")
    }

    async fn start_session(&self, user: User) -> Result<Session> {
        let token = generate_token();
        let expires = chinwag_store::id::now_ms().saturating_add(self.refresh_ttl_ms);
        let record = self
            .store
            .create_refresh_token(user.id, &token, expires)
            .await?;
        Ok(Session {
            user,
            session_id: record.session_id,
            refresh_token: token,
            refresh_expires_at: expires,
        })
    }
}
