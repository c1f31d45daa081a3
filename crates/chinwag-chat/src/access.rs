//! Who may see and manage what, and the rooms a user belongs in.
//!
//! A community is invisible (`NOT_FOUND`) to non-members. Members see its
//! public channels; a private channel is visible to its member list and to
//! the community's managers. Managers are the owner and the holders of the
//! Admin role the store creates with the community.

use chinwag_protocol::Id;
use chinwag_protocol::model::{Channel, Community, Member};
use chinwag_realtime::RoomId;
use chinwag_store::communities::ADMIN_ROLE_NAME;

use crate::chat::Chat;
use crate::error::{ChatError, OrNotFound as _, Result};

/// A member's standing in a community.
#[derive(Debug, Clone)]
pub struct Access {
    /// The community.
    pub community: Community,
    /// Whether the member manages it (owner or Admin role).
    pub manager: bool,
}

/// A channel the caller sees, its room, and the caller's membership of
/// its community (`None` for DMs).
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// The channel.
    pub channel: Channel,
    /// Its room.
    pub room: RoomId,
    /// The caller's membership, for community channels.
    pub member: Option<Member>,
}

/// The room a channel's messages go to: `dm:{id}` for DMs, else
/// `channel:{id}`.
pub fn channel_room(channel: &Channel) -> RoomId {
    match channel.community_id {
        None => RoomId::dm(channel.id),
        Some(_) => RoomId::channel(channel.id),
    }
}

impl Chat {
    /// The caller's standing in a community; `NOT_FOUND` unless a member.
    pub async fn access(&self, user: Id, community_id: Id) -> Result<Access> {
        if !self.store.is_member(community_id, user).await? {
            return Err(ChatError::NotFound("community"));
        }
        let community = self
            .store
            .community(community_id)
            .await
            .or_not_found("community")?;
        let manager = self.is_manager(&community, user).await?;
        Ok(Access { community, manager })
    }

    /// Like [`Chat::access`], and `FORBIDDEN` unless the caller manages
    /// the community.
    pub async fn manage(&self, user: Id, community_id: Id) -> Result<Access> {
        let access = self.access(user, community_id).await?;
        if !access.manager {
            return Err(ChatError::forbidden(
                "only the owner or an admin may do this",
            ));
        }
        Ok(access)
    }

    async fn is_manager(&self, community: &Community, user: Id) -> Result<bool> {
        if community.owner_id == user {
            return Ok(true);
        }
        let held = self.store.member_role_ids(community.id, user).await?;
        self.holds_admin(community, user, &held).await
    }

    /// Whether `user`, holding the roles `held`, manages the community.
    async fn holds_admin(&self, community: &Community, user: Id, held: &[Id]) -> Result<bool> {
        if community.owner_id == user {
            return Ok(true);
        }
        if held.is_empty() {
            return Ok(false);
        }
        let roles = self.store.community_roles(community.id).await?;
        Ok(roles
            .iter()
            .any(|r| r.name == ADMIN_ROLE_NAME && held.contains(&r.id)))
    }

    /// Whether a member with the given standing sees a community channel.
    pub(crate) async fn member_sees(
        &self,
        user: Id,
        channel: &Channel,
        manager: bool,
    ) -> Result<bool> {
        if !channel.private || manager {
            return Ok(true);
        }
        Ok(self
            .store
            .is_private_channel_member(channel.id, user)
            .await?)
    }

    /// A channel (community channel or DM) the caller may see, with its
    /// room; `NOT_FOUND` otherwise, so hidden channels do not leak.
    pub async fn visible_channel(&self, user: Id, channel_id: Id) -> Result<(Channel, RoomId)> {
        let seen = self.seen_channel(user, channel_id).await?;
        Ok((seen.channel, seen.room))
    }

    /// [`Chat::visible_channel`] with the caller's membership (for
    /// community channels), in as few queries as the common case allows:
    /// the channel, then the membership; only a private channel the caller
    /// is not listed on needs the manager check.
    pub(crate) async fn seen_channel(&self, user: Id, channel_id: Id) -> Result<Seen> {
        let hidden = || ChatError::NotFound("channel");
        let channel = self
            .store
            .channel(channel_id)
            .await
            .or_not_found("channel")?;
        let member = match channel.community_id {
            None => {
                if !channel.recipient_ids.contains(&user) {
                    return Err(hidden());
                }
                None
            }
            Some(community_id) => {
                let member = match self.store.member(community_id, user).await {
                    Ok(member) => member,
                    Err(chinwag_store::StoreError::NotFound) => return Err(hidden()),
                    Err(err) => return Err(err.into()),
                };
                if channel.private
                    && !self
                        .store
                        .is_private_channel_member(channel.id, user)
                        .await?
                {
                    let community = self
                        .store
                        .community(community_id)
                        .await
                        .or_not_found("channel")?;
                    if !self.holds_admin(&community, user, &member.role_ids).await? {
                        return Err(hidden());
                    }
                }
                Some(member)
            }
        };
        let room = channel_room(&channel);
        Ok(Seen {
            channel,
            room,
            member,
        })
    }

    /// The community members who see a channel (for joining its room).
    pub(crate) async fn channel_viewers(
        &self,
        community: &Community,
        channel: &Channel,
    ) -> Result<Vec<Id>> {
        let members = self.store.member_ids(community.id).await?;
        if !channel.private {
            return Ok(members);
        }
        let mut out = Vec::with_capacity(members.len());
        for user in members {
            if self.is_manager(community, user).await?
                || self
                    .store
                    .is_private_channel_member(channel.id, user)
                    .await?
            {
                out.push(user);
            }
        }
        Ok(out)
    }

    /// The channels of a community the caller sees, in list order.
    pub(crate) async fn visible_channels(&self, user: Id, access: &Access) -> Result<Vec<Channel>> {
        let mut out = Vec::new();
        for channel in self.store.community_channels(access.community.id).await? {
            if self.member_sees(user, &channel, access.manager).await? {
                out.push(channel);
            }
        }
        Ok(out)
    }

    /// Every room a user's connections belong in (besides `user:`): each
    /// community, each channel they see, each DM.
    pub async fn rooms_for(&self, user: Id) -> Result<Vec<RoomId>> {
        let mut rooms = Vec::new();
        for community in self.store.user_communities(user).await? {
            let manager = self.is_manager(&community, user).await?;
            rooms.push(RoomId::community(community.id));
            let access = Access { community, manager };
            for channel in self.visible_channels(user, &access).await? {
                rooms.push(RoomId::channel(channel.id));
            }
        }
        for dm in self.store.user_dms(user).await? {
            rooms.push(RoomId::dm(dm.id));
        }
        Ok(rooms)
    }

    /// Where a user's presence is published: their communities and DMs.
    pub async fn presence_rooms(&self, user: Id) -> Result<Vec<RoomId>> {
        let mut rooms: Vec<RoomId> = self
            .store
            .user_communities(user)
            .await?
            .into_iter()
            .map(|c| RoomId::community(c.id))
            .collect();
        rooms.extend(
            self.store
                .user_dms(user)
                .await?
                .into_iter()
                .map(|c| RoomId::dm(c.id)),
        );
        Ok(rooms)
    }
}
