//! Who may see and manage what, and the rooms a user belongs in.
//!
//! A community is invisible (`NOT_FOUND`) to non-members. A member sees a
//! channel when their effective permissions there include `VIEW_CHANNEL`
//! (see [`crate::permissions`]): @everyone's and their roles' bits, a
//! private channel's member list, then channel overrides. The owner and
//! `ADMINISTRATOR` holders (the Admin role) see everything.

use chinwag_protocol::Id;
use chinwag_protocol::model::{Channel, Community, User};
use chinwag_protocol::permissions::{MANAGE_CHANNELS, VIEW_CHANNEL};
use chinwag_realtime::{RoomId, RoomKind};
use chinwag_store::{AccessVersions, ChannelAccess};

use crate::chat::Chat;
use crate::error::{ChatError, OrNotFound as _, Result};
use crate::permissions::{channel_bits, community_bits};

mod cache;
pub(crate) use cache::SendAccessCache;

/// A member's standing in a community.
#[derive(Debug, Clone)]
pub struct Access {
    /// The community.
    pub community: Community,
    /// Whether the member manages its channels (`MANAGE_CHANNELS`).
    pub manager: bool,
    /// The member's community-level permission bits.
    pub permissions: u64,
}

/// A channel the caller sees, its room, and the caller's membership of
/// its community (`None` for DMs).
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// The channel.
    pub channel: Channel,
    /// Its room.
    pub room: RoomId,
    /// Until when the caller is timed out in the channel's community.
    pub timed_out_until: Option<i64>,
    /// The caller's effective permission bits in the channel (every bit
    /// in a DM: participants need nothing more).
    pub permissions: u64,
    /// The caller's user row, read with the check (for authoring).
    pub caller: Option<User>,
    /// The versions this check was read at, to guard a later write with
    /// (`None` in a DM).
    pub versions: Option<AccessVersions>,
}

impl Seen {
    /// `FORBIDDEN` unless the caller holds every bit of `wanted` here.
    pub fn require(&self, wanted: u64) -> Result<()> {
        if chinwag_protocol::permissions::has(self.permissions, wanted) {
            Ok(())
        } else {
            Err(ChatError::forbidden("missing permission in this channel"))
        }
    }

    /// [`Seen::require`], and `TIMED_OUT` while the caller is timed out
    /// in the community: for anything that writes.
    pub fn require_active(&self, wanted: u64) -> Result<()> {
        if let Some(until) = self.timed_out_until
            && until > chinwag_store::id::now_ms()
        {
            return Err(ChatError::TimedOut(until));
        }
        self.require(wanted)
    }
}

/// The room a channel's messages go to: `dm:{id}` for DMs, else
/// `channel:{id}`.
pub fn channel_room(channel: &Channel) -> RoomId {
    match channel.community_id {
        None => RoomId::dm(channel.id),
        Some(_) => RoomId::channel(channel.id),
    }
}

/// The caller's timeout and effective bits in a channel, from what
/// [`chinwag_store::Store::channel_access`] read; `None` unless they see
/// it. A DM's participants hold every bit. In a community channel the
/// membership, the roles' bits, the private list and the overrides are
/// combined by [`community_bits`] and [`channel_bits`], exactly as
/// [`Chat::standing`] and [`Chat::channel_permissions`] do from their
/// separate queries.
fn seen_bits(user: Id, access: &ChannelAccess) -> Option<(Option<i64>, u64)> {
    let channel = &access.channel;
    let Some(community_id) = channel.community_id else {
        return channel
            .recipient_ids
            .contains(&user)
            .then_some((None, u64::MAX));
    };
    let (member, owner_id) = (access.member.as_ref()?, access.owner_id?);
    let held: Vec<Id> = member.held.iter().map(|(id, _)| *id).collect();
    let community = community_bits(
        owner_id == user,
        std::iter::once(member.everyone_permissions).chain(member.held.iter().map(|(_, b)| *b)),
    );
    let bits = channel_bits(
        community,
        channel.private && !member.private_member,
        &member.overrides,
        community_id,
        user,
        &held,
    );
    chinwag_protocol::permissions::has(bits, VIEW_CHANNEL).then_some((member.timed_out_until, bits))
}

impl Chat {
    /// The caller's standing in a community; `NOT_FOUND` unless a member.
    pub async fn access(&self, user: Id, community_id: Id) -> Result<Access> {
        let standing = self.standing(user, community_id).await?;
        Ok(Access {
            manager: standing.has(MANAGE_CHANNELS),
            permissions: standing.permissions,
            community: standing.community,
        })
    }

    /// Like [`Chat::access`], and `FORBIDDEN` unless the caller holds every
    /// bit of `wanted` in the community.
    pub async fn require(&self, user: Id, community_id: Id, wanted: u64) -> Result<Access> {
        let access = self.access(user, community_id).await?;
        if !chinwag_protocol::permissions::has(access.permissions, wanted) {
            return Err(ChatError::forbidden("missing permission"));
        }
        Ok(access)
    }

    /// Like [`Chat::access`], and `FORBIDDEN` unless the caller manages
    /// the community's channels (`MANAGE_CHANNELS`).
    pub async fn manage(&self, user: Id, community_id: Id) -> Result<Access> {
        let access = self.access(user, community_id).await?;
        if !access.manager {
            return Err(ChatError::forbidden(
                "managing channels needs MANAGE_CHANNELS",
            ));
        }
        Ok(access)
    }

    /// A channel (community channel or DM) the caller may see, with its
    /// room; `NOT_FOUND` otherwise, so hidden channels do not leak.
    pub async fn visible_channel(&self, user: Id, channel_id: Id) -> Result<(Channel, RoomId)> {
        let seen = self.seen_channel(user, channel_id).await?;
        Ok((seen.channel, seen.room))
    }

    /// [`Chat::visible_channel`] with the caller's standing there, in one
    /// query ([`chinwag_store::Store::channel_access`]).
    pub(crate) async fn seen_channel(&self, user: Id, channel_id: Id) -> Result<Seen> {
        let access = self
            .store
            .channel_access(channel_id, user)
            .await
            .or_not_found("channel")?;
        let Some((timed_out_until, permissions)) = seen_bits(user, &access) else {
            return Err(ChatError::NotFound("channel"));
        };
        let room = channel_room(&access.channel);
        let versions = access.versions();
        Ok(Seen {
            channel: access.channel,
            room,
            timed_out_until,
            permissions,
            caller: access.caller,
            versions,
        })
    }

    /// Whether `user` sees a channel (an unknown channel is seen by no
    /// one), in one query.
    pub(crate) async fn sees_channel(&self, user: Id, channel_id: Id) -> Result<bool> {
        match self.store.channel_access(channel_id, user).await {
            Ok(access) => Ok(seen_bits(user, &access).is_some()),
            Err(chinwag_store::StoreError::NotFound) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// The community members who see a channel (for joining its room).
    pub(crate) async fn channel_viewers(
        &self,
        community: &Community,
        channel: &Channel,
    ) -> Result<Vec<Id>> {
        let members = self.store.member_ids(community.id).await?;
        let mut out = Vec::with_capacity(members.len());
        for user in members {
            let held = self.store.member_role_ids(community.id, user).await?;
            let standing = self.standing_of(community.clone(), user, held).await?;
            if self.can_in(&standing, channel, VIEW_CHANNEL).await? {
                out.push(user);
            }
        }
        Ok(out)
    }

    /// The channels of a community the caller sees, in list order.
    pub(crate) async fn visible_channels(&self, user: Id, access: &Access) -> Result<Vec<Channel>> {
        let held = self
            .store
            .member_role_ids(access.community.id, user)
            .await?;
        let standing = self
            .standing_of(access.community.clone(), user, held)
            .await?;
        let mut out = Vec::new();
        for channel in self.store.community_channels(access.community.id).await? {
            if self.can_in(&standing, &channel, VIEW_CHANNEL).await? {
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
            rooms.push(RoomId::community(community.id));
            let held = self.store.member_role_ids(community.id, user).await?;
            let standing = self.standing_of(community, user, held).await?;
            for channel in self.store.community_channels(standing.community.id).await? {
                if self.can_in(&standing, &channel, VIEW_CHANNEL).await? {
                    rooms.push(RoomId::channel(channel.id));
                }
            }
        }
        for dm in self.store.user_dm_ids(user).await? {
            rooms.push(RoomId::dm(dm));
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
                .user_dm_ids(user)
                .await?
                .into_iter()
                .map(RoomId::dm),
        );
        Ok(rooms)
    }

    /// Of the rooms [`rooms_for`](Self::rooms_for) gave, those where the
    /// user's presence is published: the set [`presence_rooms`](Self::presence_rooms)
    /// looks up, found without a query.
    pub fn presence_rooms_among(joined: &[RoomId]) -> Vec<RoomId> {
        joined
            .iter()
            .filter(|room| matches!(room.kind(), RoomKind::Community | RoomKind::Dm))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests;
