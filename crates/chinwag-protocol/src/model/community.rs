//! Communities, members, roles and invites.

use serde::{Deserialize, Serialize};

use crate::model::User;
use crate::{Id, Timestamp};

/// A community (a "server" or "guild" elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Community {
    /// Community id.
    pub id: Id,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Icon image URL.
    pub icon_url: Option<String>,
    /// The creating user, who holds the Admin role.
    pub owner_id: Id,
    /// Creation time.
    pub created_at: Timestamp,
    /// Community version.
    pub version: i64,
    /// Permission version: bumped on every role, override or membership
    /// change that can alter anyone's effective permissions.
    pub permission_version: i64,
}

/// A user's membership of a community.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Community id.
    pub community_id: Id,
    /// The member's profile.
    pub user: User,
    /// Per-community nickname.
    pub nickname: Option<String>,
    /// Role ids held, besides @everyone.
    pub role_ids: Vec<Id>,
    /// Join time.
    pub joined_at: Timestamp,
    /// While in the future, the member cannot send.
    pub timed_out_until: Option<Timestamp>,
}

/// A role: a permission bitset at a position in the hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Role id.
    pub id: Id,
    /// Community id.
    pub community_id: Id,
    /// Name.
    pub name: String,
    /// Permission bits, see `docs/protocol.md`.
    pub permissions: u64,
    /// Higher positions outrank lower ones; @everyone is 0.
    pub position: i32,
    /// Display color (0xRRGGBB).
    pub color: Option<u32>,
    /// Role version.
    pub version: i64,
}

/// An invite link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// The code in the link.
    pub code: String,
    /// Community id.
    pub community_id: Id,
    /// Who created it.
    pub creator_id: Id,
    /// After this time the invite no longer works.
    pub expires_at: Option<Timestamp>,
    /// Maximum number of uses.
    pub max_uses: Option<i64>,
    /// Uses so far.
    pub uses: i64,
    /// Creation time.
    pub created_at: Timestamp,
}
