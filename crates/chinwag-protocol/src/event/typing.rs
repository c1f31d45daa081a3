//! Typing (ephemeral).

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// `USER_TYPING`: never stored, never replayed; stale after `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTyping {
    /// Channel id.
    pub channel_id: Id,
    /// Who is typing.
    pub user_id: Id,
    /// When the indicator should disappear (8 s after it was sent).
    pub expires_at: Timestamp,
}
