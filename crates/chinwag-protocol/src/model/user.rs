//! Users, profiles and presence.

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// The role a connection or account acts in. Rooms may mix roles; a room
/// broadcast only carries events every role understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// A human account.
    User,
    /// An automated account.
    Bot,
}

/// A user's public profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: Id,
    /// Unique login name.
    pub username: String,
    /// Name shown in clients.
    pub display_name: String,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// Free-form biography.
    pub bio: Option<String>,
    /// Whether this is a bot account.
    pub bot: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Profile version.
    pub version: i64,
}

/// A user's aggregated presence status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    /// At least one connection, active.
    Online,
    /// At least one connection, idle.
    Idle,
    /// At least one connection, do not disturb.
    Dnd,
    /// No connection.
    Offline,
}

/// A user's presence, aggregated across all devices and nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// User id.
    pub user_id: Id,
    /// Aggregated status.
    pub status: PresenceStatus,
    /// Presence version; grows on each change of this user's presence.
    pub version: i64,
}
