//! Profile events (invalidate).

use serde::{Deserialize, Serialize};

use crate::Id;

/// `USER_PROFILE_UPDATED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfileUpdated {
    /// The user whose profile changed.
    pub user_id: Id,
    /// The profile's new version.
    pub version: i64,
}
