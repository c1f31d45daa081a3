//! Communities: create, get, list, update, delete, leave.

use chinwag_protocol::event::community::CommunityRef;
use chinwag_protocol::model::{Community, Member};
use chinwag_protocol::{Event, Id};
use chinwag_realtime::RoomId;
use chinwag_store::{CommunityUpdate, NewCommunity};

use crate::chat::{Chat, DELETED};
use crate::error::{ChatError, OrNotFound as _, Result};
use crate::validate;

/// The reason given to a leaving member's connections leaving the rooms.
pub const LEFT: &str = "left";

/// The most communities a user may be a member of (owned ones included).
/// Creating or joining one more is `CONFLICT` (the store counts under the
/// user's lock).
pub use chinwag_store::communities::MAX_COMMUNITIES_PER_USER;

/// Permission bits of the @everyone role in a new community.
pub const EVERYONE_PERMISSIONS: u64 = chinwag_protocol::permissions::EVERYONE_DEFAULT;
/// Permission bits of the Admin role: every defined bit.
pub const ADMIN_PERMISSIONS: u64 = chinwag_protocol::permissions::ALL;

/// A community to create.
#[derive(Debug, Clone, Default)]
pub struct CommunitySpec {
    /// Name, 1..=100 characters.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Icon URL.
    pub icon_url: Option<String>,
}

/// A community change; `None` fields stay as they are, `Some(None)`
/// clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct CommunityChange {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<Option<String>>,
    /// New icon URL.
    pub icon_url: Option<Option<String>>,
}

impl CommunityChange {
    /// Whether it names no field (a `PATCH` of `{}`): applying it changes
    /// nothing, so it bumps no version and emits nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none() && self.icon_url.is_none()
    }
}

impl Chat {
    /// Creates a community owned by `user` (who holds its Admin role) and
    /// joins the owner's connections to its room; at most
    /// [`MAX_COMMUNITIES_PER_USER`] per user.
    pub async fn create_community(&self, user: Id, spec: CommunitySpec) -> Result<Community> {
        let name = validate::name("name", &spec.name)?;
        let description = validate::text("description", spec.description)?;
        let icon_url = validate::text("icon_url", spec.icon_url)?;
        let created = self
            .store
            .create_community(NewCommunity {
                owner_id: user,
                name,
                description,
                icon_url,
                everyone_permissions: EVERYONE_PERMISSIONS,
                admin_permissions: ADMIN_PERMISSIONS,
            })
            .await?;
        let community = created.community;
        self.join_user(user, &RoomId::community(community.id))
            .await?;
        Ok(community)
    }

    /// A community the caller is a member of.
    pub async fn community(&self, user: Id, community_id: Id) -> Result<Community> {
        Ok(self.access(user, community_id).await?.community)
    }

    /// The caller's communities, oldest first.
    pub async fn my_communities(&self, user: Id) -> Result<Vec<Community>> {
        Ok(self.store.user_communities(user).await?)
    }

    /// A page of a community's members, by user id after `after`.
    pub async fn members(
        &self,
        user: Id,
        community_id: Id,
        after: Option<Id>,
        limit: u32,
    ) -> Result<Vec<Member>> {
        self.access(user, community_id).await?;
        let limit = validate::limit(limit)?;
        Ok(self.store.members(community_id, after, limit).await?)
    }

    /// Changes a community (managers only); emits `COMMUNITY_UPDATED`.
    /// An empty change returns the community as it is.
    pub async fn update_community(
        &self,
        user: Id,
        community_id: Id,
        change: CommunityChange,
    ) -> Result<Community> {
        self.require(
            user,
            community_id,
            chinwag_protocol::permissions::MANAGE_COMMUNITY,
        )
        .await?;
        if change.is_empty() {
            return self.community(user, community_id).await;
        }
        let name = change
            .name
            .map(|n| validate::name("name", &n))
            .transpose()?;
        let description = match change.description {
            Some(d) => Some(validate::text("description", d)?),
            None => None,
        };
        let icon_url = match change.icon_url {
            Some(i) => Some(validate::text("icon_url", i)?),
            None => None,
        };
        let community = self
            .store
            .update_community(
                community_id,
                CommunityUpdate {
                    name,
                    description,
                    icon_url,
                },
            )
            .await
            .or_not_found("community")?;
        self.emit(
            &RoomId::community(community_id),
            Event::CommunityUpdated(CommunityRef { community_id }),
        )
        .await;
        Ok(community)
    }

    /// Deletes a community with everything in it (the owner, or a member
    /// holding `ADMINISTRATOR`; `MANAGE_COMMUNITY` alone is not enough);
    /// emits `VOICE_CHANNEL_USER_LEFT` for whoever was in its voice
    /// channels, then `COMMUNITY_DELETED`, then removes every member from
    /// its rooms.
    pub async fn delete_community(&self, user: Id, community_id: Id) -> Result<()> {
        self.require(
            user,
            community_id,
            chinwag_protocol::permissions::ADMINISTRATOR,
        )
        .await?;
        let _turn = self.community_turn(community_id).await;
        let members = self.store.member_ids(community_id).await?;
        let channels = self.store.community_channels(community_id).await?;
        let voice_left = self
            .store
            .delete_community(community_id)
            .await
            .or_not_found("community")?;
        // Into the voice channels' rooms, before their members leave them.
        self.emit_voice_left(voice_left).await;
        let room = RoomId::community(community_id);
        self.emit(
            &room,
            Event::CommunityDeleted(CommunityRef { community_id }),
        )
        .await;
        for member in members {
            for channel in &channels {
                self.leave_user(member, &RoomId::channel(channel.id), DELETED)
                    .await?;
            }
            self.leave_user(member, &room, DELETED).await?;
        }
        Ok(())
    }

    /// Leaves a community of one's own accord; emits
    /// `MEMBER_LEFT_COMMUNITY` while the caller is still in its room (so
    /// their other devices hear it), then leaves its voice channel and
    /// every room of it (reason `left`), as a kick does. The owner cannot
    /// leave: they delete the community instead. Rejoining takes an invite.
    pub async fn leave_community(&self, user: Id, community_id: Id) -> Result<()> {
        let access = self.access(user, community_id).await?;
        if access.community.owner_id == user {
            return Err(ChatError::Conflict(
                "the owner cannot leave the community; delete it instead".into(),
            ));
        }
        // "community": kicked, banned or left between the check and here.
        self.remove_member(
            community_id,
            user,
            "community",
            Event::MemberLeftCommunity,
            LEFT,
        )
        .await
    }
}

#[cfg(test)]
mod tests;
