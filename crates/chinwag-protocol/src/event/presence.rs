//! Presence events.

use serde::{Deserialize, Serialize};

use crate::model::Presence;

/// `USER_ONLINE` / `USER_OFFLINE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChanged {
    /// The user's aggregated presence and its version.
    pub presence: Presence,
}
