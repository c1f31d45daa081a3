//! Direct messages: open a one-to-one DM, create a group DM, list DMs.
//! Both participants' connections join `dm:{id}` when the DM is created.

use chinwag_protocol::Id;
use chinwag_protocol::model::Channel;
use chinwag_realtime::RoomId;

use crate::chat::Chat;
use crate::error::{ChatError, OrNotFound as _, Result};
use crate::validate;

impl Chat {
    /// The DM between the caller and `other`, created if missing (then
    /// both users' connections join its room).
    pub async fn open_dm(&self, user: Id, other: Id) -> Result<Channel> {
        if user == other {
            return Err(ChatError::invalid("cannot open a DM with yourself"));
        }
        self.store.user(other).await.or_not_found("user")?;
        let (channel, created) = self.store.open_dm(user, other).await?;
        if created {
            self.join_members(&channel).await?;
        }
        Ok(channel)
    }

    /// Creates a group DM of the caller and `recipients` (2..=10 users in
    /// all); every participant's connections join its room.
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
        let known = self.store.users(recipients).await?;
        if recipients.iter().any(|r| !known.iter().any(|u| u.id == *r)) {
            return Err(ChatError::NotFound("user"));
        }
        let channel = self.store.create_group_dm(user, recipients, &name).await?;
        self.join_members(&channel).await?;
        Ok(channel)
    }

    /// The caller's DMs, most recently active first.
    pub async fn my_dms(&self, user: Id) -> Result<Vec<Channel>> {
        Ok(self.store.user_dms(user).await?)
    }

    async fn join_members(&self, channel: &Channel) -> Result<()> {
        let room = RoomId::dm(channel.id);
        for user in &channel.recipient_ids {
            self.join_user(*user, &room).await?;
        }
        Ok(())
    }
}
