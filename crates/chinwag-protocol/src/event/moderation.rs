//! Moderation events (invalidate). Bans and kicks use
//! [`MemberRef`](crate::event::community::MemberRef).

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// `USER_TIMED_OUT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTimedOut {
    /// Community id.
    pub community_id: Id,
    /// The member.
    pub user_id: Id,
    /// When the timeout ends.
    pub until: Timestamp,
}
