//! The store's error type.

use sqlx::error::ErrorKind;

/// What can go wrong in a store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed resource (or one it refers to) does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated (a taken username, a duplicate
    /// membership, ...). The text names the constraint.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The invite's expiry time has passed.
    #[error("invite expired")]
    InviteExpired,
    /// The invite reached its maximum number of uses.
    #[error("invite exhausted")]
    InviteExhausted,
    /// The user is banned from the community.
    #[error("user is banned")]
    Banned,
    /// A resource is full: the change would pass a cap of the store (a
    /// message's distinct reactions, ...). The text says which.
    #[error("{0}")]
    Limit(String),
    /// The input breaks a rule of the store (a limit out of range, a DM with
    /// too many recipients, ...).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Password hashing failed.
    #[error("password hash: {0}")]
    PasswordHash(String),
    /// Applying the migrations failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error("database: {0}")]
    Database(sqlx::Error),
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => {
                    let what = db
                        .constraint()
                        .map(str::to_owned)
                        .unwrap_or_else(|| db.message().to_owned());
                    StoreError::Conflict(what)
                }
                ErrorKind::ForeignKeyViolation => StoreError::NotFound,
                _ => StoreError::Database(e),
            },
            _ => StoreError::Database(e),
        }
    }
}

impl StoreError {
    /// Whether the database could not be reached (no connection in time,
    /// a broken socket): the request may succeed once it is back.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
            )
        )
    }

    /// A shorthand for [`StoreError::Invalid`].
    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        StoreError::Invalid(what.into())
    }
}

/// [`StoreError::NotFound`] for a lookup key (a username, an invite code)
/// holding a NUL character: nothing stored can match it, and PostgreSQL
/// refuses NUL in text outright (an error, not a miss).
pub(crate) fn lookup_key(key: &str) -> Result<()> {
    if key.contains('\0') {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
