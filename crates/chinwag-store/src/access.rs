//! A caller's standing in one channel, read in one statement.
//!
//! [`Store::channel_access`] returns the channel (with a DM's recipients),
//! the community's owner, the caller's membership and timeout, the bits of
//! @everyone and of each role they hold, the channel's overrides that can
//! apply to them, whether they are on a private channel's member list, and
//! their own user row. That is everything a permission check in a channel
//! needs, in one round trip instead of six or seven; the bits are combined
//! by the caller (`chinwag-chat`'s permission rules), not here.

use chinwag_protocol::model::{Channel, User};
use chinwag_protocol::permissions::ALL;
use chinwag_protocol::{Id, Timestamp};

use crate::accounts::UserRow;
use crate::channels::ChannelRow;
use crate::error::{Result, StoreError};
use crate::roles::{OverrideTarget, PermissionOverride};
use crate::store::{Store, with_pool};

/// What [`Store::channel_access`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelAccess {
    /// The channel; a DM's `recipient_ids` are filled in, by user id.
    pub channel: Channel,
    /// The community's owner (`None` for a DM).
    pub owner_id: Option<Id>,
    /// The caller's membership of the channel's community (`None` for a
    /// DM, or when the caller is not a member).
    pub member: Option<ChannelStanding>,
    /// The caller's user row (`None` if there is no such user).
    pub caller: Option<User>,
    /// The community's `permission_version` (`None` for a DM).
    pub permission_version: Option<i64>,
}

impl ChannelAccess {
    /// The versions a later write may be guarded with (see
    /// [`Store::create_message_if_current`]): `None` for a DM or an
    /// unknown caller.
    pub fn versions(&self) -> Option<AccessVersions> {
        Some(AccessVersions {
            channel: self.channel.version,
            permissions: self.permission_version?,
            author: self.caller.as_ref()?.version,
        })
    }
}

/// The versions of the rows a community-channel access check read: the
/// channel, the community's permissions (bumped with every change to
/// membership, roles, overrides, private lists and timeouts, in the same
/// transaction) and the caller's profile. While all three are unchanged,
/// so is the caller's standing in the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessVersions {
    /// The channel's `version`.
    pub channel: i64,
    /// The community's `permission_version`.
    pub permissions: i64,
    /// The caller's profile `version`.
    pub author: i64,
}

/// A member's raw standing in one community channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelStanding {
    /// Until when the member is timed out, if ever set.
    pub timed_out_until: Option<Timestamp>,
    /// The @everyone role's bits (0 if the role is missing).
    pub everyone_permissions: u64,
    /// Each role held besides @everyone, by id, with its bits (0 for a
    /// role outside the community).
    pub held: Vec<(Id, u64)>,
    /// The channel's role overrides (any role) and the caller's own user
    /// override, ordered by kind then target.
    pub overrides: Vec<PermissionOverride>,
    /// Whether the caller is on the channel's private member list.
    pub private_member: bool,
}

/// One row of the access query: the channel, membership and caller
/// columns repeat; `item` says what the rest of the row is.
#[derive(Debug, sqlx::FromRow)]
struct AccessRow {
    #[sqlx(flatten)]
    channel: ChannelRow,
    owner_id: Option<i64>,
    permission_version: Option<i64>,
    member_id: Option<i64>,
    timed_out_until: Option<i64>,
    u_id: Option<i64>,
    u_username: Option<String>,
    u_display_name: Option<String>,
    u_avatar_url: Option<String>,
    u_bio: Option<String>,
    u_bot: Option<bool>,
    u_created_at: Option<i64>,
    u_version: Option<i64>,
    item: Option<String>,
    target_id: Option<i64>,
    allow_bits: Option<i64>,
    deny_bits: Option<i64>,
}

impl AccessRow {
    fn caller(&self) -> Option<User> {
        let row = UserRow {
            id: self.u_id?,
            username: self.u_username.clone()?,
            display_name: self.u_display_name.clone()?,
            avatar_url: self.u_avatar_url.clone(),
            bio: self.u_bio.clone(),
            bot: self.u_bot?,
            created_at: self.u_created_at?,
            version: self.u_version?,
        };
        Some(row.into())
    }
}

/// `$1` the channel, `$2` the caller. The items are @everyone's role, the
/// caller's held roles, the channel's overrides that can apply to the
/// caller, the caller's private-list entry and a DM's recipients; each
/// is a primary-key or indexed lookup.
const ACCESS_SQL: &str = "
SELECT c.id, c.community_id, c.kind, c.name, c.topic, c.position, c.private, c.created_at,
       c.version,
       co.owner_id, co.permission_version, m.user_id AS member_id, m.timed_out_until,
       u.id AS u_id, u.username AS u_username, u.display_name AS u_display_name,
       u.avatar_url AS u_avatar_url, u.bio AS u_bio, u.bot AS u_bot,
       u.created_at AS u_created_at, u.version AS u_version,
       x.item, x.target_id, x.allow_bits, x.deny_bits
FROM channels c
LEFT JOIN communities co ON co.id = c.community_id
LEFT JOIN members m ON m.community_id = c.community_id AND m.user_id = $2
LEFT JOIN users u ON u.id = $2
LEFT JOIN (
    SELECT 'everyone' AS item, r.id AS target_id, r.permissions AS allow_bits,
           CAST(0 AS BIGINT) AS deny_bits
    FROM channels ch JOIN roles r ON r.id = ch.community_id AND r.community_id = ch.community_id
    WHERE ch.id = $1
  UNION ALL
    SELECT 'held', mr.role_id, COALESCE(r.permissions, CAST(0 AS BIGINT)), CAST(0 AS BIGINT)
    FROM channels ch
    JOIN member_roles mr ON mr.community_id = ch.community_id AND mr.user_id = $2
    LEFT JOIN roles r ON r.id = mr.role_id AND r.community_id = mr.community_id
    WHERE ch.id = $1
  UNION ALL
    SELECT o.target_kind, o.target_id, o.allow_bits, o.deny_bits
    FROM channel_overrides o
    WHERE o.channel_id = $1
      AND (o.target_kind = 'role' OR (o.target_kind = 'user' AND o.target_id = $2))
  UNION ALL
    SELECT 'private', p.user_id, CAST(0 AS BIGINT), CAST(0 AS BIGINT)
    FROM private_channel_members p
    WHERE p.channel_id = $1 AND p.user_id = $2
  UNION ALL
    SELECT 'recipient', cr.user_id, CAST(0 AS BIGINT), CAST(0 AS BIGINT)
    FROM channel_recipients cr
    WHERE cr.channel_id = $1
) x ON 1 = 1
WHERE c.id = $1
ORDER BY x.item, x.target_id";

impl Store {
    /// A caller's standing in a channel (community channel or DM), in one
    /// statement. [`StoreError::NotFound`] for an unknown channel.
    pub async fn channel_access(&self, channel_id: Id, user_id: Id) -> Result<ChannelAccess> {
        let rows: Vec<AccessRow> = with_pool!(self, pool => sqlx::query_as(ACCESS_SQL)
            .bind(channel_id.0)
            .bind(user_id.0)
            .fetch_all(pool)
            .await?);
        let Some(first) = rows.first() else {
            return Err(StoreError::NotFound);
        };
        let caller = first.caller();
        let owner_id = first.owner_id.map(Id);
        let permission_version = first.permission_version;
        let is_member = first.member_id.is_some() && first.channel.community_id.is_some();
        let mut standing = ChannelStanding {
            timed_out_until: first.timed_out_until,
            ..ChannelStanding::default()
        };
        let mut recipients = Vec::new();
        let mut channel = None;
        for row in rows {
            if let (Some(item), Some(target)) = (row.item.as_deref(), row.target_id) {
                // Undefined bits (stored by older versions) are dropped.
                let allow = row.allow_bits.unwrap_or(0) as u64 & ALL;
                let deny = row.deny_bits.unwrap_or(0) as u64 & ALL;
                match item {
                    "everyone" => standing.everyone_permissions = allow,
                    "held" => standing.held.push((Id(target), allow)),
                    "role" | "user" => standing.overrides.push(PermissionOverride {
                        channel_id,
                        target: if item == "user" {
                            OverrideTarget::User(Id(target))
                        } else {
                            OverrideTarget::Role(Id(target))
                        },
                        allow,
                        deny,
                    }),
                    "private" => standing.private_member = true,
                    "recipient" => recipients.push(Id(target)),
                    _ => {}
                }
            }
            if channel.is_none() {
                channel = Some(row.channel);
            }
        }
        let channel = channel.ok_or(StoreError::NotFound)?;
        let channel = if channel.community_id.is_none() {
            channel.into_channel(recipients)
        } else {
            channel.into_channel(Vec::new())
        };
        Ok(ChannelAccess {
            channel,
            owner_id,
            member: is_member.then_some(standing),
            caller,
            permission_version,
        })
    }
}
