//! Direct messages: open a one-to-one DM, create a group DM, list DMs,
//! leave a group DM. Both participants' connections join `dm:{id}` when
//! the DM is created.
//!
//! A user may only bring in users they already share a space with (a
//! community, a DM or a group DM). Anyone else answers as an unknown user
//! would, so `POST /dms` tells a stranger nothing: not whether an id
//! exists, nor (through the DM room) its owner's presence.
//!
//! A user is in at most [`MAX_GROUP_DMS_PER_USER`] group DMs; a group DM
//! goes with its last participant.

use chinwag_protocol::event::channel::DmRecipientLeft;
use chinwag_protocol::model::{Channel, ChannelKind};
use chinwag_protocol::{Event, Id};
use chinwag_realtime::RoomId;
use chinwag_store::dms::{DmPage, MAX_GROUP_DM_RECIPIENTS};

use crate::chat::Chat;
use crate::communities::LEFT;
use crate::error::{ChatError, OrNotFound as _, Result};
use crate::validate;

/// The most group DMs one user may be in; one more is `CONFLICT` for the
/// caller or a recipient (the store counts under the users' locks).
pub use chinwag_store::dms::MAX_GROUP_DMS_PER_USER;

impl Chat {
    /// The DM between the caller and `other`, created if missing (then
    /// both users' connections join its room). `other` must share a space
    /// with the caller.
    pub async fn open_dm(&self, user: Id, other: Id) -> Result<Channel> {
        if user == other {
            return Err(ChatError::invalid("cannot open a DM with yourself"));
        }
        self.require_acquainted(user, other).await?;
        let (channel, created) = self.store.open_dm(user, other).await?;
        if created {
            self.join_members(&channel).await?;
        }
        Ok(channel)
    }

    /// Creates a group DM of the caller and `recipients` (2..=10 users in
    /// all, each sharing a space with the caller and in fewer than
    /// [`MAX_GROUP_DMS_PER_USER`] group DMs); every participant's
    /// connections join its room.
    pub async fn create_group_dm(
        &self,
        user: Id,
        recipients: &[Id],
        name: Option<&str>,
    ) -> Result<Channel> {
        let name = match name {
            Some(n) if !n.trim().is_empty() => validate::name("name", n)?,
            _ => String::new(),
        };
        let mut others: Vec<Id> = recipients.iter().copied().filter(|r| *r != user).collect();
        others.sort_unstable();
        others.dedup();
        if others.len() >= MAX_GROUP_DM_RECIPIENTS {
            // The store checks the size too; this bounds the lookups below.
            return Err(ChatError::invalid(format!(
                "a group DM has 2..={MAX_GROUP_DM_RECIPIENTS} users"
            )));
        }
        for other in others {
            self.require_acquainted(user, other).await?;
        }
        let channel = self.store.create_group_dm(user, recipients, &name).await?;
        self.join_members(&channel).await?;
        Ok(channel)
    }

    /// Leaves a group DM: leaves its call if in it, emits
    /// `DM_RECIPIENT_LEFT` while still in its room (so the leaver's other
    /// devices hear it), then every connection of theirs leaves the room
    /// (reason `left`). A one-to-one DM cannot be left; the last one out
    /// deletes a group DM.
    pub async fn leave_group_dm(&self, user: Id, channel_id: Id) -> Result<()> {
        let (channel, room) = self.visible_channel(user, channel_id).await?;
        if channel.kind != ChannelKind::GroupDm {
            return Err(ChatError::invalid("only a group DM can be left"));
        }
        // The DM's turn, which voice joins take too: nobody joins its call
        // between the leave below and the recipient's removal.
        let _turn = self.channel_writes.lock(channel_id).await;
        self.leave_voice_if(user, |state| state.channel_id == channel_id)
            .await;
        if !self.store.leave_group_dm(channel_id, user).await? {
            return Err(ChatError::NotFound("channel"));
        }
        // A join from another node may have slipped in before the leave
        // committed (joins check membership under the DM's lock, so none
        // can follow it): end that one too.
        self.leave_voice_if(user, |state| state.channel_id == channel_id)
            .await;
        self.emit(
            &room,
            Event::DmRecipientLeft(DmRecipientLeft {
                channel_id,
                user_id: user,
            }),
        )
        .await;
        self.leave_user(user, &room, LEFT).await?;
        Ok(())
    }

    /// A page of the caller's DMs, most recently active first: `limit`
    /// (1..=100) after the cursor `before` (the previous page's `next`), or
    /// the first ones.
    pub async fn my_dms(&self, user: Id, before: Option<Id>, limit: u32) -> Result<DmPage> {
        let limit = validate::limit(limit)?;
        Ok(self.store.user_dms(user, before, limit).await?)
    }

    /// `other` exists and shares a space with `user`; otherwise "user not
    /// found", the same answer as for an id nobody holds.
    async fn require_acquainted(&self, user: Id, other: Id) -> Result<()> {
        if !self.store.share_a_space(user, other).await? {
            return Err(ChatError::NotFound("user"));
        }
        self.store.user(other).await.or_not_found("user")?;
        Ok(())
    }

    async fn join_members(&self, channel: &Channel) -> Result<()> {
        let room = RoomId::dm(channel.id);
        for user in &channel.recipient_ids {
            self.join_user(*user, &room).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
