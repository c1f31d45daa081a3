//! [`ChatError`]: what a chat operation can fail with, and the stable
//! protocol [`ErrorCode`] each variant maps to.

use chinwag_protocol::ErrorCode;
use chinwag_realtime::HubError;
use chinwag_store::StoreError;

/// What can go wrong in a chat operation.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The input breaks a rule (empty content, a name too long, ...).
    #[error("{0}")]
    Invalid(String),
    /// No such resource, or the caller may not know it exists.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller sees the resource but may not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// Wrong credentials or an unusable refresh token.
    #[error("{0}")]
    Unauthorized(String),
    /// The request conflicts with current state (a taken username, ...).
    #[error("{0}")]
    Conflict(String),
    /// The invite's expiry has passed.
    #[error("invite expired")]
    InviteExpired,
    /// The invite reached its maximum uses.
    #[error("invite has no uses left")]
    InviteExhausted,
    /// The user is banned from the community.
    #[error("banned from this community")]
    Banned,
    /// The member is timed out and cannot send.
    #[error("timed out until {0}")]
    TimedOut(chinwag_protocol::Timestamp),
    /// The database failed.
    #[error("store: {0}")]
    Store(StoreError),
    /// The hub or its engine failed.
    #[error("hub: {0}")]
    Hub(#[from] HubError),
}

/// The chat result type.
pub type Result<T, E = ChatError> = std::result::Result<T, E>;

impl ChatError {
    /// The protocol error code (and so the HTTP status) for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ChatError::Invalid(_) => ErrorCode::BadRequest,
            ChatError::NotFound(_) => ErrorCode::NotFound,
            ChatError::Forbidden(_) | ChatError::Banned => ErrorCode::Forbidden,
            ChatError::Unauthorized(_) => ErrorCode::Unauthorized,
            ChatError::TimedOut(_) => ErrorCode::TimedOut,
            ChatError::Conflict(_) | ChatError::InviteExpired | ChatError::InviteExhausted => {
                ErrorCode::Conflict
            }
            ChatError::Store(err) if err.is_unavailable() => ErrorCode::Unavailable,
            ChatError::Store(_) | ChatError::Hub(_) => ErrorCode::Internal,
        }
    }

    /// Whether this is a server-side failure whose detail must not reach
    /// the client.
    pub fn is_internal(&self) -> bool {
        self.code() == ErrorCode::Internal
    }

    /// A shorthand for [`ChatError::Invalid`].
    pub fn invalid(what: impl Into<String>) -> ChatError {
        ChatError::Invalid(what.into())
    }

    /// A shorthand for [`ChatError::Forbidden`].
    pub fn forbidden(what: impl Into<String>) -> ChatError {
        ChatError::Forbidden(what.into())
    }
}

impl From<StoreError> for ChatError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ChatError::NotFound("resource"),
            StoreError::Conflict(what) => ChatError::Conflict(format!("conflict: {what}")),
            StoreError::InviteExpired => ChatError::InviteExpired,
            StoreError::InviteExhausted => ChatError::InviteExhausted,
            StoreError::Banned => ChatError::Banned,
            StoreError::Invalid(what) => ChatError::Invalid(what),
            StoreError::Limit(what) => ChatError::Conflict(what),
            other => ChatError::Store(other),
        }
    }
}

/// Maps a store "not found" to a named [`ChatError::NotFound`].
pub(crate) trait OrNotFound<T> {
    /// Names the missing resource.
    fn or_not_found(self, what: &'static str) -> Result<T>;
}

impl<T> OrNotFound<T> for std::result::Result<T, StoreError> {
    fn or_not_found(self, what: &'static str) -> Result<T> {
        self.map_err(|err| match err {
            StoreError::NotFound => ChatError::NotFound(what),
            other => other.into(),
        })
    }
}

/// Asserts that `result` is the `CONFLICT` of a cap (the tests of the caps).
#[cfg(test)]
pub(crate) fn assert_conflict<T: std::fmt::Debug>(result: Result<T>) {
    let full = |why: &str| why.starts_with("at most") || why.starts_with("a recipient is in");
    assert!(
        matches!(&result, Err(ChatError::Conflict(why)) if full(why)),
        "{result:?}"
    );
}
