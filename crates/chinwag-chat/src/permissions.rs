//! Effective permissions and the role hierarchy.
//!
//! A member's community permissions are the union of @everyone's bits (the
//! role whose id is the community id) and those of every role they hold;
//! the owner holds every bit, and [`ADMINISTRATOR`] implies every bit. In a
//! channel, overrides then apply (see [`chinwag_protocol::permissions`]).
//! A member's rank is their highest role's position (the owner outranks
//! everyone); they manage only roles and members ranked strictly below.
//!
//! When permissions change, `Chat::snapshot` before and
//! `Chat::resync` after move the affected users' connections into and
//! out of channel rooms live and ask them to re-authenticate
//! (`reauth_required`, reason `permissions_changed`).

use std::collections::{BTreeSet, HashMap};

use chinwag_protocol::Id;
use chinwag_protocol::model::{Channel, Community, Role};
use chinwag_protocol::permissions::{ADMINISTRATOR, ALL, VIEW_CHANNEL, has};
use chinwag_realtime::RoomId;
use chinwag_store::StoreError;
use chinwag_store::roles::{OverrideTarget, PermissionOverride};

use crate::chat::{ACCESS_REVOKED, Chat, CommunityTurn};
use crate::error::{ChatError, OrNotFound as _, Result};

/// The reason given with `reauth_required` when permissions change.
pub const PERMISSIONS_CHANGED: &str = "permissions_changed";

/// The owner's rank: above every role position.
pub const OWNER_RANK: i64 = i64::MAX;

/// A member's standing: the roles they hold, their community permissions
/// and their rank.
#[derive(Debug, Clone)]
pub struct Standing {
    /// The community.
    pub community: Community,
    /// The member.
    pub user: Id,
    /// Role ids held, besides @everyone.
    pub held: Vec<Id>,
    /// Community-level permission bits.
    pub permissions: u64,
    /// Highest held role position (0 for @everyone only; [`OWNER_RANK`]
    /// for the owner).
    pub rank: i64,
}

impl Standing {
    /// Whether the member holds every bit of `wanted`.
    pub fn has(&self, wanted: u64) -> bool {
        has(self.permissions, wanted)
    }

    /// `FORBIDDEN` unless the member holds every bit of `wanted`.
    pub fn require(&self, wanted: u64) -> Result<()> {
        if self.has(wanted) {
            Ok(())
        } else {
            Err(ChatError::forbidden("missing permission"))
        }
    }

    /// `FORBIDDEN` unless the member outranks `rank`.
    pub fn outranks(&self, rank: i64, what: &str) -> Result<()> {
        if self.rank > rank {
            Ok(())
        } else {
            Err(ChatError::forbidden(format!(
                "you can only manage {what} ranked below your highest role"
            )))
        }
    }
}

/// What a user sees of a community, to diff before and after a change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Snap {
    permissions: u64,
    visible: BTreeSet<Id>,
}

/// A member's community bits: every bit for the owner, else the union of
/// `role_bits` (@everyone's and each held role's), every bit if that
/// includes [`ADMINISTRATOR`].
pub(crate) fn community_bits(owner: bool, role_bits: impl IntoIterator<Item = u64>) -> u64 {
    if owner {
        return ALL;
    }
    // Undefined bits grant nothing (the store drops them on read too).
    let bits = role_bits.into_iter().fold(0u64, |acc, b| acc | b) & ALL;
    if bits & ADMINISTRATOR != 0 { ALL } else { bits }
}

/// A member's bits in a community channel from their community bits:
/// [`ADMINISTRATOR`] holds every bit; otherwise `VIEW_CHANNEL` goes if the
/// channel is private and they are not on its list (`hidden`), then
/// @everyone's override applies, then the union of their roles'
/// overrides, then their own user override.
pub(crate) fn channel_bits(
    community: u64,
    hidden: bool,
    overrides: &[PermissionOverride],
    everyone: Id,
    user: Id,
    held: &[Id],
) -> u64 {
    if community & ADMINISTRATOR != 0 {
        return ALL;
    }
    let mut bits = community;
    if hidden {
        bits &= !VIEW_CHANNEL;
    }
    if overrides.is_empty() {
        return bits;
    }
    if let Some(o) = overrides
        .iter()
        .find(|o| o.target == OverrideTarget::Role(everyone))
    {
        bits = (bits & !o.deny) | o.allow;
    }
    let (mut allow, mut deny) = (0u64, 0u64);
    for o in overrides {
        if let OverrideTarget::Role(role) = o.target
            && role != everyone
            && held.contains(&role)
        {
            allow |= o.allow;
            deny |= o.deny;
        }
    }
    bits = (bits & !deny) | allow;
    if let Some(o) = overrides
        .iter()
        .find(|o| o.target == OverrideTarget::User(user))
    {
        bits = (bits & !o.deny) | o.allow;
    }
    bits
}

/// Computes a rank from the community's roles and the held ids.
fn rank_of(community: &Community, user: Id, roles: &[Role], held: &[Id]) -> i64 {
    if community.owner_id == user {
        return OWNER_RANK;
    }
    roles
        .iter()
        .filter(|r| held.contains(&r.id))
        .map(|r| i64::from(r.position))
        .max()
        .unwrap_or(0)
}

impl Chat {
    /// A member's standing in a community; `NOT_FOUND` unless a member.
    pub async fn standing(&self, user: Id, community_id: Id) -> Result<Standing> {
        let member = match self.store.member(community_id, user).await {
            Ok(m) => m,
            Err(StoreError::NotFound) => return Err(ChatError::NotFound("community")),
            Err(err) => return Err(err.into()),
        };
        let community = self
            .store
            .community(community_id)
            .await
            .or_not_found("community")?;
        self.standing_of(community, user, member.role_ids).await
    }

    /// A standing from a known community and held role ids.
    pub(crate) async fn standing_of(
        &self,
        community: Community,
        user: Id,
        held: Vec<Id>,
    ) -> Result<Standing> {
        let roles = self.store.community_roles(community.id).await?;
        let rank = rank_of(&community, user, &roles, &held);
        let permissions = community_bits(
            community.owner_id == user,
            roles
                .iter()
                .filter(|r| r.id == community.id || held.contains(&r.id))
                .map(|r| r.permissions),
        );
        Ok(Standing {
            community,
            user,
            held,
            permissions,
            rank,
        })
    }

    /// A member's rank in a community (0 for a non-member).
    pub(crate) async fn rank(&self, community: &Community, user: Id) -> Result<i64> {
        if community.owner_id == user {
            return Ok(OWNER_RANK);
        }
        let held = self.store.member_role_ids(community.id, user).await?;
        let roles = self.store.community_roles(community.id).await?;
        Ok(rank_of(community, user, &roles, &held))
    }

    /// A member's permission bits in a community channel: community bits,
    /// then the private-channel rule, then overrides.
    pub async fn channel_permissions(&self, standing: &Standing, channel: &Channel) -> Result<u64> {
        if standing.permissions & ADMINISTRATOR != 0 {
            return Ok(ALL);
        }
        let hidden = channel.private
            && !self
                .store
                .is_private_channel_member(channel.id, standing.user)
                .await?;
        let overrides = self.store.channel_overrides(channel.id).await?;
        Ok(channel_bits(
            standing.permissions,
            hidden,
            &overrides,
            standing.community.id,
            standing.user,
            &standing.held,
        ))
    }

    /// Whether a member with this standing holds `wanted` in a channel.
    pub(crate) async fn can_in(
        &self,
        standing: &Standing,
        channel: &Channel,
        wanted: u64,
    ) -> Result<bool> {
        Ok(has(
            self.channel_permissions(standing, channel).await?,
            wanted,
        ))
    }

    /// `FORBIDDEN` unless the caller holds `wanted` in a community channel
    /// (DMs need nothing beyond being a participant).
    pub(crate) async fn require_in_channel(
        &self,
        user: Id,
        channel: &Channel,
        wanted: u64,
    ) -> Result<()> {
        let Some(community_id) = channel.community_id else {
            return Ok(());
        };
        let standing = self.standing(user, community_id).await?;
        if self.can_in(&standing, channel, wanted).await? {
            Ok(())
        } else {
            Err(ChatError::forbidden("missing permission in this channel"))
        }
    }

    /// What `user` sees of a community now (empty for a non-member).
    pub(crate) async fn snap(&self, community_id: Id, user: Id) -> Result<Snap> {
        let standing = match self.standing(user, community_id).await {
            Ok(s) => s,
            Err(ChatError::NotFound(_)) => return Ok(Snap::default()),
            Err(err) => return Err(err),
        };
        let mut visible = BTreeSet::new();
        for channel in self.store.community_channels(community_id).await? {
            if self.can_in(&standing, &channel, VIEW_CHANNEL).await? {
                visible.insert(channel.id);
            }
        }
        Ok(Snap {
            permissions: standing.permissions,
            visible,
        })
    }

    /// Snapshots several users (before a change), in the community's
    /// turn, which the change then holds until its [`Chat::resync`].
    pub(crate) async fn snapshot(
        &self,
        turn: &CommunityTurn<'_>,
        users: &[Id],
    ) -> Result<HashMap<Id, Snap>> {
        let mut out = HashMap::with_capacity(users.len());
        for &user in users {
            out.insert(user, self.snap(turn.community_id, user).await?);
        }
        Ok(out)
    }

    /// After a change: joins each snapshotted user to the channel rooms
    /// they gained, removes them from those they lost (and from voice in
    /// one of them), and asks those whose permissions changed to
    /// re-authenticate.
    pub(crate) async fn resync(
        &self,
        turn: &CommunityTurn<'_>,
        before: HashMap<Id, Snap>,
    ) -> Result<()> {
        let community_id = turn.community_id;
        for (user, old) in before {
            let new = self.snap(community_id, user).await?;
            if new == old {
                continue;
            }
            let gained: Vec<RoomId> = new
                .visible
                .difference(&old.visible)
                .map(|id| RoomId::channel(*id))
                .collect();
            if !gained.is_empty() && !self.join_member(user, community_id, &gained).await? {
                continue;
            }
            if !old.visible.is_subset(&new.visible) {
                // A voice channel they can no longer see, they leave, while
                // still in its room, so their own devices hear it too.
                self.leave_voice_if(user, |state| {
                    old.visible.contains(&state.channel_id)
                        && !new.visible.contains(&state.channel_id)
                })
                .await;
            }
            for lost in old.visible.difference(&new.visible) {
                self.leave_user(user, &RoomId::channel(*lost), ACCESS_REVOKED)
                    .await?;
            }
            self.hub.require_reauth(user, PERMISSIONS_CHANGED).await?;
        }
        Ok(())
    }

    /// The caller's permission bits in a community, or in one of its
    /// channels.
    pub async fn my_permissions(
        &self,
        user: Id,
        community_id: Id,
        channel_id: Option<Id>,
    ) -> Result<u64> {
        let standing = self.standing(user, community_id).await?;
        match channel_id {
            None => Ok(standing.permissions),
            Some(channel_id) => {
                let channel = self
                    .store
                    .channel(channel_id)
                    .await
                    .or_not_found("channel")?;
                if channel.community_id != Some(community_id) {
                    return Err(ChatError::NotFound("channel"));
                }
                let bits = self.channel_permissions(&standing, &channel).await?;
                if !has(bits, VIEW_CHANNEL) {
                    return Err(ChatError::NotFound("channel"));
                }
                Ok(bits)
            }
        }
    }
}
