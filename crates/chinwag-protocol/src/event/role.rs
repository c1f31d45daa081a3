//! Role events (invalidate).

use serde::{Deserialize, Serialize};

use crate::Id;

/// `ROLE_CREATED` / `ROLE_UPDATED` / `ROLE_DELETED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRef {
    /// Community id.
    pub community_id: Id,
    /// Role id.
    pub role_id: Id,
}

/// `ROLE_ASSIGNED` / `ROLE_UNASSIGNED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleAssignment {
    /// Community id.
    pub community_id: Id,
    /// Role id.
    pub role_id: Id,
    /// The member.
    pub user_id: Id,
}
