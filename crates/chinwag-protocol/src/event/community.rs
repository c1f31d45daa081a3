//! Community and membership events (invalidate).

use serde::{Deserialize, Serialize};

use crate::Id;

/// `COMMUNITY_UPDATED` / `COMMUNITY_DELETED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunityRef {
    /// Community id.
    pub community_id: Id,
}

/// `MEMBER_ADDED_TO_COMMUNITY`, `MEMBER_LEFT_COMMUNITY`, `USER_BANNED`,
/// `USER_KICKED`, `TIMEOUT_REMOVED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRef {
    /// Community id.
    pub community_id: Id,
    /// The member.
    pub user_id: Id,
}
