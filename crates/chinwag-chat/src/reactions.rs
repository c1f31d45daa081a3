//! Reactions and pins. Events go to the message's room (`channel:{id}` or
//! `dm:{id}`) with the message's new version.
//!
//! Adding a reaction needs `ADD_REACTIONS` in the channel (removing one's
//! own needs only sight of it); pinning and unpinning need
//! `PIN_MESSAGES`. A timed-out member may do neither but remove their own
//! reaction. In DMs every participant may do both. Each change takes its
//! turn with the channel's other message writes (`channel_writes`), so
//! the room gets the events in version order. A message in a
//! channel the caller cannot see is `NOT_FOUND`.
//!
//! An emoji is 1..=64 bytes with no whitespace, control or invisible characters
//! ([`validate::emoji`]); a message holds at most
//! [`validate::MAX_REACTIONS_PER_MESSAGE`] distinct emoji, and a new one
//! beyond that is `CONFLICT`.

use chinwag_protocol::event::reaction::{PinChanged, ReactionChanged};
use chinwag_protocol::model::{Message, ReactionSummary};
use chinwag_protocol::permissions::{ADD_REACTIONS, PIN_MESSAGES};
use chinwag_protocol::{Event, Id};

use crate::chat::Chat;
use crate::error::{ChatError, OrNotFound as _, Result};
use crate::validate;

/// The result of a reaction change.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReactionResult {
    /// The emoji's summary now.
    pub reaction: ReactionSummary,
    /// The message's version now.
    pub version: i64,
}

impl Chat {
    /// Adds the caller's reaction; emits `REACTION_ADDED` if new.
    pub async fn add_reaction(
        &self,
        user: Id,
        message_id: Id,
        emoji: &str,
    ) -> Result<ReactionResult> {
        self.change_reaction(user, message_id, emoji, true).await
    }

    /// Removes the caller's reaction; emits `REACTION_REMOVED` if it was
    /// there.
    pub async fn remove_reaction(
        &self,
        user: Id,
        message_id: Id,
        emoji: &str,
    ) -> Result<ReactionResult> {
        self.change_reaction(user, message_id, emoji, false).await
    }

    async fn change_reaction(
        &self,
        user: Id,
        message_id: Id,
        emoji: &str,
        add: bool,
    ) -> Result<ReactionResult> {
        if add {
            validate::emoji(emoji)?;
        } else {
            // Lax, so reactions stored before the emoji rules can go.
            validate::no_nul("emoji", emoji)?;
        }
        let (current, seen) = self.seen_message(user, message_id).await?;
        if add {
            seen.require_active(ADD_REACTIONS)?;
        }
        let (channel, room) = (seen.channel, seen.room);
        // In turn with the channel's other message writes, so events reach
        // the room in the order of the versions they carry.
        let _turn = self.channel_writes.lock(current.channel_id).await;
        let update = if add {
            self.store.add_reaction(message_id, user, emoji).await
        } else {
            self.store.remove_reaction(message_id, user, emoji).await
        }
        .or_not_found("message")?;
        if update.changed {
            let payload = ReactionChanged {
                message_id,
                channel_id: channel.id,
                user_id: user,
                reaction: update.summary.clone(),
                version: update.version,
            };
            let event = if add {
                Event::ReactionAdded(payload)
            } else {
                Event::ReactionRemoved(payload)
            };
            self.emit(&room, event).await;
        }
        Ok(ReactionResult {
            reaction: update.summary,
            version: update.version,
        })
    }

    /// Pins (`pinned`) or unpins a message; emits `MESSAGE_PINNED` /
    /// `MESSAGE_UNPINNED` when that changes anything.
    pub async fn set_pinned(&self, user: Id, message_id: Id, pinned: bool) -> Result<Message> {
        let (current, seen) = self.seen_message(user, message_id).await?;
        seen.require_active(PIN_MESSAGES)?;
        let (channel, room) = (seen.channel, seen.room);
        if current.thread_parent_id.is_some() {
            return Err(ChatError::invalid("thread replies cannot be pinned"));
        }
        let _turn = self.channel_writes.lock(current.channel_id).await;
        let update = if pinned {
            self.store.pin_message(message_id).await
        } else {
            self.store.unpin_message(message_id).await
        }
        .or_not_found("message")?;
        if let Some(version) = update.changed_to {
            let payload = PinChanged {
                message_id,
                channel_id: channel.id,
                actor_id: user,
                pinned,
                version,
            };
            let event = if pinned {
                Event::MessagePinned(payload)
            } else {
                Event::MessageUnpinned(payload)
            };
            self.emit(&room, event).await;
        }
        Ok(update.message)
    }

    /// A channel's pinned messages, most recently pinned first.
    pub async fn pinned_messages(&self, user: Id, channel_id: Id) -> Result<Vec<Message>> {
        self.visible_channel(user, channel_id).await?;
        Ok(self.store.pinned_messages(channel_id).await?)
    }
}
