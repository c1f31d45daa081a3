//! Community channels: create, list, update, delete, reorder, and the
//! member lists of private channels.

use std::collections::HashSet;

use chinwag_protocol::event::channel::{ChannelRef, ChannelsReordered};
use chinwag_protocol::model::{Channel, ChannelKind};
use chinwag_protocol::{Event, Id};
use chinwag_realtime::RoomId;
use chinwag_store::{ChannelUpdate, NewChannel};
use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::chat::{ACCESS_REVOKED, Chat, DELETED};
use crate::error::{ChatError, OrNotFound as _, Result};
use crate::permissions::PERMISSIONS_CHANGED;
use crate::validate;

/// A channel to create.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelSpec {
    /// `text` (default) or `voice`.
    #[serde(default = "text_kind")]
    pub kind: ChannelKind,
    /// Name, 1..=100 characters.
    pub name: String,
    /// Topic line.
    #[serde(default)]
    pub topic: Option<String>,
    /// Hidden from members who are not on its list, unless they are the
    /// owner or administrators, or an override allows them `VIEW_CHANNEL`.
    #[serde(default)]
    pub private: bool,
}

fn text_kind() -> ChannelKind {
    ChannelKind::Text
}

/// A channel change; `None` fields stay as they are, `Some(None)` clears
/// the topic.
#[derive(Debug, Clone, Default)]
pub struct ChannelChange {
    /// New name.
    pub name: Option<String>,
    /// New topic.
    pub topic: Option<Option<String>>,
    /// New privacy.
    pub private: Option<bool>,
}

impl ChannelChange {
    /// Whether it names no field (a `PATCH` of `{}`): applying it changes
    /// nothing, so it bumps no version and emits nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.topic.is_none() && self.private.is_none()
    }
}

/// The most channels (text and voice) a community may hold; one more is
/// `CONFLICT` (the store counts under the community's lock).
pub use chinwag_store::channels::MAX_CHANNELS_PER_COMMUNITY;

impl Chat {
    /// Creates a channel (managers only); emits `CHANNEL_CREATED` to the
    /// community and joins everyone who sees it to its room.
    pub async fn create_channel(
        &self,
        user: Id,
        community_id: Id,
        spec: ChannelSpec,
    ) -> Result<Channel> {
        let access = self.manage(user, community_id).await?;
        if !matches!(spec.kind, ChannelKind::Text | ChannelKind::Voice) {
            return Err(ChatError::invalid("a community channel is text or voice"));
        }
        let _turn = self.community_turn(community_id).await;
        let channel = self
            .store
            .create_channel(NewChannel {
                community_id,
                kind: spec.kind,
                name: validate::name("name", &spec.name)?,
                topic: validate::text("topic", spec.topic)?,
                private: spec.private,
            })
            .await?;
        let room = RoomId::channel(channel.id);
        let viewers = self.channel_viewers(&access.community, &channel).await?;
        for &viewer in &viewers {
            self.join_user(viewer, &room).await?;
        }
        // A member another node removed meanwhile may have left every room
        // it knew of before this one was joined: check membership again
        // (one query, as `Chat::join_member` does for one user).
        let members: HashSet<Id> = self
            .store
            .member_ids(community_id)
            .await?
            .into_iter()
            .collect();
        for gone in viewers.iter().filter(|v| !members.contains(v)) {
            self.leave_user(*gone, &room, ACCESS_REVOKED).await?;
        }
        self.emit(
            &RoomId::community(community_id),
            Event::ChannelCreated(ChannelRef {
                community_id,
                channel_id: channel.id,
            }),
        )
        .await;
        Ok(channel)
    }

    /// The channels of a community the caller sees, in list order.
    pub async fn channels(&self, user: Id, community_id: Id) -> Result<Vec<Channel>> {
        let access = self.access(user, community_id).await?;
        self.visible_channels(user, &access).await
    }

    /// A channel or DM the caller sees.
    pub async fn channel(&self, user: Id, channel_id: Id) -> Result<Channel> {
        Ok(self.visible_channel(user, channel_id).await?.0)
    }

    /// The community channel `channel_id` and the caller's standing as a
    /// manager of its community.
    async fn managed_channel(&self, user: Id, channel_id: Id) -> Result<(Channel, Access)> {
        let (channel, _) = self.visible_channel(user, channel_id).await?;
        let Some(community_id) = channel.community_id else {
            return Err(ChatError::invalid("not a community channel"));
        };
        let access = self.manage(user, community_id).await?;
        Ok((channel, access))
    }

    /// Changes a channel (managers only); emits `CHANNEL_UPDATED`. When
    /// privacy changes, people who gain or lose sight of the channel are
    /// joined to or removed from its room at once and asked to
    /// re-authenticate. An empty change returns the channel as it is.
    pub async fn update_channel(
        &self,
        user: Id,
        channel_id: Id,
        change: ChannelChange,
    ) -> Result<Channel> {
        let (before, access) = self.managed_channel(user, channel_id).await?;
        if change.is_empty() {
            return Ok(before);
        }
        let name = change
            .name
            .map(|n| validate::name("name", &n))
            .transpose()?;
        let topic = match change.topic {
            Some(t) => Some(validate::text("topic", t)?),
            None => None,
        };
        let _turn = self.community_turn(access.community.id).await;
        // Read again in the turn: who saw it depends on its privacy now.
        let before = self
            .store
            .channel(channel_id)
            .await
            .or_not_found("channel")?;
        let viewers_before: HashSet<Id> = self
            .channel_viewers(&access.community, &before)
            .await?
            .into_iter()
            .collect();
        let channel = self
            .store
            .update_channel(
                channel_id,
                ChannelUpdate {
                    name,
                    topic,
                    private: change.private,
                },
            )
            .await
            .or_not_found("channel")?;
        if channel.private != before.private {
            let viewers_after: HashSet<Id> = self
                .channel_viewers(&access.community, &channel)
                .await?
                .into_iter()
                .collect();
            let room = RoomId::channel(channel_id);
            for gone in viewers_before.difference(&viewers_after) {
                // In its voice channel, they leave voice first (still in
                // the room, so their own devices hear it too).
                self.leave_voice_if(*gone, |state| state.channel_id == channel_id)
                    .await;
                self.leave_user(*gone, &room, ACCESS_REVOKED).await?;
                self.hub.require_reauth(*gone, PERMISSIONS_CHANGED).await?;
            }
            for new in viewers_after.difference(&viewers_before) {
                self.join_user(*new, &room).await?;
                self.hub.require_reauth(*new, PERMISSIONS_CHANGED).await?;
            }
        }
        self.emit(
            &RoomId::community(access.community.id),
            Event::ChannelUpdated(ChannelRef {
                community_id: access.community.id,
                channel_id,
            }),
        )
        .await;
        Ok(channel)
    }

    /// Deletes a channel with its messages (managers only); emits
    /// `VOICE_CHANNEL_USER_LEFT` for whoever was in it (a voice channel),
    /// then `CHANNEL_DELETED`, and empties its room.
    pub async fn delete_channel(&self, user: Id, channel_id: Id) -> Result<()> {
        let (_, access) = self.managed_channel(user, channel_id).await?;
        let community_id = access.community.id;
        let _turn = self.community_turn(community_id).await;
        let members = self.store.member_ids(community_id).await?;
        let deleted = self
            .store
            .delete_channel(channel_id)
            .await
            .or_not_found("channel")?;
        // Into the channel's room, before its members leave it.
        self.emit_voice_left(deleted.voice_left).await;
        self.emit(
            &RoomId::community(community_id),
            Event::ChannelDeleted(ChannelRef {
                community_id,
                channel_id,
            }),
        )
        .await;
        let room = RoomId::channel(channel_id);
        for member in members {
            self.leave_user(member, &room, DELETED).await?;
        }
        Ok(())
    }

    /// Puts a community's channels in the given order (managers only;
    /// every channel exactly once); emits `CHANNELS_REORDERED`.
    pub async fn reorder_channels(
        &self,
        user: Id,
        community_id: Id,
        ordered: &[Id],
    ) -> Result<Vec<Channel>> {
        let access = self.manage(user, community_id).await?;
        self.store.reorder_channels(community_id, ordered).await?;
        self.emit(
            &RoomId::community(community_id),
            Event::ChannelsReordered(ChannelsReordered { community_id }),
        )
        .await;
        self.visible_channels(user, &access).await
    }

    /// The member list of a private channel (managers only).
    pub async fn private_channel_members(&self, user: Id, channel_id: Id) -> Result<Vec<Id>> {
        self.managed_channel(user, channel_id).await?;
        Ok(self.store.private_channel_members(channel_id).await?)
    }

    /// Puts a member on a private channel's list (managers only). Whether
    /// that lets them see the channel is decided by the same rule as the
    /// rooms at connect ([`Chat::rooms_for`]): an override may still deny
    /// `VIEW_CHANNEL`. If their sight of it changes, their connections join
    /// its room at once and are asked to re-authenticate.
    pub async fn add_private_channel_member(
        &self,
        user: Id,
        channel_id: Id,
        target: Id,
    ) -> Result<bool> {
        let (channel, access) = self.managed_channel(user, channel_id).await?;
        if !channel.private {
            return Err(ChatError::invalid("the channel is not private"));
        }
        let community_id = access.community.id;
        if !self.store.is_member(community_id, target).await? {
            return Err(ChatError::NotFound("member"));
        }
        let turn = self.community_turn(community_id).await;
        let before = self.snapshot(&turn, &[target]).await?;
        let added = self
            .store
            .add_private_channel_member(channel_id, target)
            .await?;
        if added {
            self.resync(&turn, before).await?;
            self.notify_channel_updated(community_id, channel_id).await;
        }
        Ok(added)
    }

    /// Takes a member off a private channel's list (managers only, and
    /// only members ranked below them, or themselves). If
    /// they no longer see the channel (by the rule of [`Chat::rooms_for`]:
    /// a role override or administrator bits may still show it), their
    /// connections leave its room at once (reason `access_revoked`) and
    /// are asked to re-authenticate.
    pub async fn remove_private_channel_member(
        &self,
        user: Id,
        channel_id: Id,
        target: Id,
    ) -> Result<bool> {
        let (channel, access) = self.managed_channel(user, channel_id).await?;
        if !channel.private {
            return Err(ChatError::invalid("the channel is not private"));
        }
        let community_id = access.community.id;
        if target != user {
            // Taking access away, like moderation, only reaches lower ranks.
            let standing = self.standing(user, community_id).await?;
            let rank = self.rank(&standing.community, target).await?;
            standing.outranks(rank, "members")?;
        }
        let turn = self.community_turn(community_id).await;
        let before = self.snapshot(&turn, &[target]).await?;
        let removed = self
            .store
            .remove_private_channel_member(channel_id, target)
            .await?;
        if removed {
            self.resync(&turn, before).await?;
            self.notify_channel_updated(community_id, channel_id).await;
        }
        Ok(removed)
    }

    async fn notify_channel_updated(&self, community_id: Id, channel_id: Id) {
        self.emit(
            &RoomId::community(community_id),
            Event::ChannelUpdated(ChannelRef {
                community_id,
                channel_id,
            }),
        )
        .await;
    }
}
