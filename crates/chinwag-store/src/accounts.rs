//! Accounts: users, profiles and refresh tokens.

use chinwag_protocol::model::User;
use chinwag_protocol::{Id, Timestamp};

use crate::crypto::hash_token;
use crate::error::{Result, StoreError, lookup_key};
use crate::id::now_ms;
use crate::store::{BeginWrite as _, Store, with_pool, with_writer};

/// How many expired refresh tokens one statement of
/// [`Store::prune_refresh_tokens`] deletes.
pub const PRUNE_BATCH: i64 = 1000;

/// The user columns, aliased as [`UserRow`] expects (table alias `u`).
pub(crate) const USER_COLUMNS: &str =
    "u.id, u.username, u.display_name, u.avatar_url, u.bio, u.bot, u.created_at, u.version";

/// The user columns for `RETURNING` clauses (no table alias).
pub(crate) const USER_RETURNING: &str =
    "id, username, display_name, avatar_url, bio, bot, created_at, version";

/// A `users` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
    pub bot: bool,
    pub created_at: i64,
    pub version: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: Id(r.id),
            username: r.username,
            display_name: r.display_name,
            avatar_url: r.avatar_url,
            bio: r.bio,
            bot: r.bot,
            created_at: r.created_at,
            version: r.version,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: Option<String>,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name; unique regardless of case.
    pub username: String,
    /// Name shown in clients.
    pub display_name: String,
    /// An argon2 PHC string from [`hash_password`](crate::hash_password),
    /// or `None` for accounts that cannot log in with a password (bots).
    pub password_hash: Option<String>,
    /// Whether this is a bot account.
    pub bot: bool,
}

/// A user with the password hash, for login.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The profile.
    pub user: User,
    /// The stored argon2 hash, if the account has a password.
    pub password_hash: Option<String>,
}

/// A profile change; `None` fields are left as they are.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// New display name.
    pub display_name: Option<String>,
    /// New avatar URL (`Some(None)` clears it).
    pub avatar_url: Option<Option<String>>,
    /// New biography (`Some(None)` clears it).
    pub bio: Option<Option<String>>,
}

/// A valid refresh token's record (the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Whose token it is.
    pub user_id: Id,
    /// The session: the chain of tokens one login started (rotation keeps
    /// it).
    pub session_id: Id,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

fn check_username(username: &str) -> Result<()> {
    let len = username.chars().count();
    if !(1..=32).contains(&len) || username.chars().any(char::is_whitespace) {
        return Err(StoreError::invalid(
            "username must be 1..=32 characters without spaces",
        ));
    }
    Ok(())
}

impl Store {
    /// Creates a user. [`StoreError::Conflict`] if the username is taken
    /// (compared case-insensitively).
    pub async fn create_user(&self, new: NewUser) -> Result<User> {
        check_username(&new.username)?;
        if new.display_name.trim().is_empty() {
            return Err(StoreError::invalid("display name must not be empty"));
        }
        let id = self.next_id();
        let now = now_ms();
        let sql = format!(
            "INSERT INTO users (id, username, display_name, bot, password_hash, created_at, version)
             VALUES ($1, $2, $3, $4, $5, $6, 1) RETURNING {USER_RETURNING}"
        );
        let row: UserRow = with_writer!(self, pool => sqlx::query_as(&sql)
            .bind(id.0)
            .bind(&new.username)
            .bind(&new.display_name)
            .bind(new.bot)
            .bind(&new.password_hash)
            .bind(now)
            .fetch_one(pool)
            .await?);
        Ok(row.into())
    }

    /// A user by id.
    pub async fn user(&self, id: Id) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        let row: Option<UserRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id.0).fetch_optional(pool).await?);
        row.map(User::from).ok_or(StoreError::NotFound)
    }

    /// Users by id, in no particular order; unknown ids are skipped.
    pub async fn users(&self, ids: &[Id]) -> Result<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id IN ({})",
            crate::store::placeholders(1, ids.len())
        );
        let rows: Vec<UserRow> = with_pool!(self, pool => {
            let mut q = sqlx::query_as(&sql);
            for id in ids {
                q = q.bind(id.0);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(User::from).collect())
    }

    /// A user by username (case-insensitive), with the password hash.
    pub async fn credentials_by_username(&self, username: &str) -> Result<Credentials> {
        lookup_key(username)?;
        let sql = format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE lower(u.username) = lower($1)"
        );
        let row: Option<CredentialsRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(username)
            .fetch_optional(pool)
            .await?);
        let row = row.ok_or(StoreError::NotFound)?;
        Ok(Credentials {
            user: row.user.into(),
            password_hash: row.password_hash,
        })
    }

    /// Replaces a user's password hash (bumps the profile version).
    pub async fn set_password_hash(&self, user_id: Id, password_hash: &str) -> Result<()> {
        let done = with_writer!(self, pool => sqlx::query(
            "UPDATE users SET password_hash = $2, version = version + 1 WHERE id = $1",
        )
        .bind(user_id.0)
        .bind(password_hash)
        .execute(pool)
        .await?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Changes a profile and bumps its version.
    pub async fn update_profile(&self, user_id: Id, update: ProfileUpdate) -> Result<User> {
        if update
            .display_name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err(StoreError::invalid("display name must not be empty"));
        }
        let sql = format!(
            "UPDATE users SET
                display_name = COALESCE($2, display_name),
                avatar_url = CASE WHEN $3 THEN $4 ELSE avatar_url END,
                bio = CASE WHEN $5 THEN $6 ELSE bio END,
                version = version + 1
             WHERE id = $1 RETURNING {USER_RETURNING}"
        );
        let row: Option<UserRow> = with_writer!(self, pool => sqlx::query_as(&sql)
            .bind(user_id.0)
            .bind(&update.display_name)
            .bind(update.avatar_url.is_some())
            .bind(update.avatar_url.clone().flatten())
            .bind(update.bio.is_some())
            .bind(update.bio.clone().flatten())
            .fetch_optional(pool)
            .await?);
        row.map(User::from).ok_or(StoreError::NotFound)
    }

    /// Stores a refresh token (its SHA-256 only) for a user, starting a
    /// new session.
    pub async fn create_refresh_token(
        &self,
        user_id: Id,
        token: &str,
        expires_at: Timestamp,
    ) -> Result<RefreshToken> {
        let created_at = now_ms();
        let session_id = self.next_id();
        with_writer!(self, pool => sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, user_id, session_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash_token(token))
        .bind(user_id.0)
        .bind(session_id.0)
        .bind(created_at)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(drop)?);
        Ok(RefreshToken {
            user_id,
            session_id,
            created_at,
            expires_at,
        })
    }

    /// The record of a token that is neither revoked nor expired at `now`.
    pub async fn valid_refresh_token(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<RefreshToken>> {
        let row: Option<(i64, i64, i64, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT user_id, session_id, created_at, expires_at FROM refresh_tokens
             WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(hash_token(token))
        .bind(now)
        .fetch_optional(pool)
        .await?);
        Ok(row.map(
            |(user_id, session_id, created_at, expires_at)| RefreshToken {
                user_id: Id(user_id),
                session_id: Id(session_id),
                created_at,
                expires_at,
            },
        ))
    }

    /// Revokes one token; returns its user and session if it was live.
    pub async fn revoke_refresh_token(&self, token: &str) -> Result<Option<(Id, Id)>> {
        let row: Option<(i64, i64)> = with_writer!(self, pool => sqlx::query_as(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL
             RETURNING user_id, session_id",
        )
        .bind(hash_token(token))
        .bind(now_ms())
        .fetch_optional(pool)
        .await?);
        Ok(row.map(|(user, session)| (Id(user), Id(session))))
    }

    /// The sessions signed out at or after `since_ms` (a refresh token
    /// revoked without being rotated: a logout, or every session of a user
    /// whose rotated token was reused), each with when, in milliseconds.
    /// Read through the partial index `refresh_tokens_signed_out`, not a
    /// scan of every token ever issued.
    pub async fn signed_out_sessions(&self, since_ms: i64) -> Result<Vec<(Id, i64)>> {
        let rows: Vec<(i64, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT session_id, MAX(revoked_at) FROM refresh_tokens
             WHERE revoked_at >= $1 AND rotated_at IS NULL AND session_id IS NOT NULL
             GROUP BY session_id",
        )
        .bind(since_ms)
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().map(|(s, at)| (Id(s), at)).collect())
    }

    /// Deletes the refresh tokens that expired before `expired_before`;
    /// returns how many. They go in batches of [`PRUNE_BATCH`], each its own
    /// statement, so a large backlog never holds the write lock for long.
    ///
    /// Callers keep a token for an access token's lifetime past its expiry:
    /// until then [`Store::signed_out_sessions`] may need its row. A rotated
    /// token deleted here can no longer be recognised as reused; it is
    /// simply unknown, and refused as any other.
    pub async fn prune_refresh_tokens(&self, expired_before: Timestamp) -> Result<u64> {
        let mut total = 0;
        loop {
            let n = with_writer!(self, pool => sqlx::query(
                "DELETE FROM refresh_tokens WHERE token_hash IN (
                     SELECT token_hash FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)",
            )
            .bind(expired_before)
            .bind(PRUNE_BATCH)
            .execute(pool)
            .await?
            .rows_affected());
            total += n;
            if n < PRUNE_BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// Revokes every live token of a user; returns how many.
    pub async fn revoke_all_refresh_tokens(&self, user_id: Id) -> Result<u64> {
        let n = with_writer!(self, pool => sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id.0)
        .bind(now_ms())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n)
    }

    /// If `token` was rotated away before, it is being used a second
    /// time: it leaked, or a client replays it. Revokes every live refresh
    /// token of its user and returns the user and how many were revoked;
    /// `None` for any other token.
    pub async fn revoke_on_reuse(&self, token: &str) -> Result<Option<(Id, u64)>> {
        let owner: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT user_id FROM refresh_tokens WHERE token_hash = $1 AND rotated_at IS NOT NULL",
        )
        .bind(hash_token(token))
        .fetch_optional(pool)
        .await?);
        let Some((user_id,)) = owner else {
            return Ok(None);
        };
        let revoked = self.revoke_all_refresh_tokens(Id(user_id)).await?;
        Ok(Some((Id(user_id), revoked)))
    }

    /// Atomically revokes `old` (which must be valid at `now`) and stores
    /// `new` for the same user. [`StoreError::NotFound`] if `old` is
    /// unknown, revoked or expired, so a replayed token rotates only once.
    pub async fn rotate_refresh_token(
        &self,
        old: &str,
        new: &str,
        new_expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<RefreshToken> {
        let (user_id, session_id): (i64, i64) = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let owner: Option<(i64, i64)> = sqlx::query_as(
                "UPDATE refresh_tokens SET revoked_at = $2, rotated_at = $2
                 WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2
                 RETURNING user_id, session_id",
            )
            .bind(hash_token(old))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((user_id, session_id)) = owner else {
                return Err(StoreError::NotFound);
            };
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, user_id, session_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(hash_token(new))
            .bind(user_id)
            .bind(session_id)
            .bind(now)
            .bind(new_expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            (user_id, session_id)
        });
        Ok(RefreshToken {
            user_id: Id(user_id),
            session_id: Id(session_id),
            created_at: now,
            expires_at: new_expires_at,
        })
    }
}
