//! Read receipts and notifications: per-user state, delivered only to the
//! user's own `user:{id}` room.
//!
//! Marking a channel or DM read emits `READ_RECEIPT_UPDATED` (with unread
//! and mention counts). Sending a message creates notifications: a
//! mention for each mentioned user who sees the channel, a reply for a
//! thread parent's author, a DM for each other DM participant (one per
//! recipient and message, mention first); each emits `NEW_NOTIFICATION`.
//! Marking notifications read emits `NOTIFICATION_READ`.

use std::collections::HashSet;

use chinwag_protocol::event::notification::{NewNotification, NotificationRead};
use chinwag_protocol::event::read_state::ReadReceiptUpdated;
use chinwag_protocol::model::{Channel, Message, Notification, NotificationKind, ReadState};
use chinwag_protocol::{Event, Id};
use chinwag_realtime::RoomId;
use chinwag_store::NewNotification as StoreNotification;

use crate::chat::Chat;
use crate::error::{OrNotFound as _, Result};
use crate::validate;

impl Chat {
    /// Moves the caller's read position in a channel or DM to
    /// `message_id`; emits `READ_RECEIPT_UPDATED` to `user:{id}`. Marking
    /// the message already marked changes nothing: the state as it is, no
    /// new version, no event.
    pub async fn mark_read(&self, user: Id, channel_id: Id, message_id: Id) -> Result<ReadState> {
        self.visible_channel(user, channel_id).await?;
        let current = self.store.read_state(user, channel_id).await?;
        if current.last_read_message_id == Some(message_id) {
            return Ok(current);
        }
        let state = self
            .store
            .mark_read(user, channel_id, message_id)
            .await
            .or_not_found("message")?;
        if let Err(err) = self
            .hub
            .to_user(
                user,
                Event::ReadReceiptUpdated(ReadReceiptUpdated {
                    read_state: state.clone(),
                }),
            )
            .await
        {
            tracing::error!(%err, "emitting READ_RECEIPT_UPDATED failed");
        }
        Ok(state)
    }

    /// The caller's read state in a channel it sees.
    pub async fn read_state(&self, user: Id, channel_id: Id) -> Result<ReadState> {
        self.visible_channel(user, channel_id).await?;
        Ok(self.store.read_state(user, channel_id).await?)
    }

    /// The caller's stored read states in the channels and DMs it sees
    /// now (a channel it can no longer see is left out: its counts would tell
    /// of activity there).
    pub async fn read_states(&self, user: Id) -> Result<Vec<ReadState>> {
        let seen: HashSet<RoomId> = self.rooms_for(user).await?.into_iter().collect();
        let mut states = self.store.read_states(user).await?;
        states.retain(|s| {
            seen.contains(&RoomId::channel(s.channel_id))
                || seen.contains(&RoomId::dm(s.channel_id))
        });
        Ok(states)
    }

    /// A page of the caller's notifications, newest first.
    pub async fn notifications(
        &self,
        user: Id,
        before: Option<Id>,
        limit: Option<u32>,
        unread_only: bool,
    ) -> Result<Vec<Notification>> {
        let limit = validate::limit(limit.unwrap_or(50))?;
        Ok(self
            .store
            .notifications(user, before, limit, unread_only)
            .await?)
    }

    /// Marks notifications read; emits `NOTIFICATION_READ` with the ids
    /// that changed.
    pub async fn mark_notifications_read(&self, user: Id, ids: &[Id]) -> Result<Vec<Id>> {
        let changed = self.store.mark_notifications_read(user, ids).await?;
        if !changed.is_empty()
            && let Err(err) = self
                .hub
                .to_user(
                    user,
                    Event::NotificationRead(NotificationRead {
                        notification_ids: changed.clone(),
                    }),
                )
                .await
        {
            tracing::error!(%err, "emitting NOTIFICATION_READ failed");
        }
        Ok(changed)
    }

    /// Creates the notifications a new message causes. Failures are
    /// logged: the message is already stored and emitted.
    /// `parent_author` is the thread parent's author, for a reply.
    pub(crate) async fn notify_message(
        &self,
        message: &Message,
        channel: &Channel,
        parent_author: Option<Id>,
    ) {
        if let Err(err) = self
            .try_notify_message(message, channel, parent_author)
            .await
        {
            tracing::error!(%err, message = %message.id, "creating notifications failed");
        }
    }

    async fn try_notify_message(
        &self,
        message: &Message,
        channel: &Channel,
        parent_author: Option<Id>,
    ) -> Result<()> {
        let author = message.author.id;
        let mut targets: Vec<(Id, NotificationKind)> = Vec::new();
        let mut add = |user: Id, kind| {
            if user != author && !targets.iter().any(|(u, _)| *u == user) {
                targets.push((user, kind));
            }
        };
        for &user in &message.mention_ids {
            add(user, NotificationKind::Mention);
        }
        if let Some(parent) = parent_author {
            add(parent, NotificationKind::Reply);
        }
        if channel.community_id.is_none() {
            for &user in &channel.recipient_ids {
                add(user, NotificationKind::Dm);
            }
        }
        for (user, kind) in targets {
            let sees = match channel.community_id {
                None => channel.recipient_ids.contains(&user),
                Some(_) => self.sees_channel(user, channel.id).await?,
            };
            if !sees {
                continue;
            }
            let notification = self
                .store
                .create_notification(StoreNotification {
                    user_id: user,
                    kind,
                    actor_id: author,
                    channel_id: channel.id,
                    community_id: channel.community_id,
                    message_id: message.id,
                    excerpt: message.content.clone(),
                })
                .await?;
            self.hub
                .to_user(
                    user,
                    Event::NewNotification(NewNotification { notification }),
                )
                .await?;
        }
        Ok(())
    }
}
