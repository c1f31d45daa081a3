//! Messages: send, edit, delete, read one, and paginated history.
//!
//! Writes to one channel are serialized (persist, then emit), so the order
//! of `NEW_MESSAGE` events in a room matches message id order. The sender's
//! `nonce` rides on the emitted message, so the sending client can match
//! its pending message exactly once.

use chinwag_protocol::event::message::{DeleteMessage, NewDm, NewMessage, UpdateMessage};
use chinwag_protocol::event::thread::{DeleteThreadReply, ThreadReply, ThreadReplyCountUpdated};
use chinwag_protocol::model::{Channel, Message};
use chinwag_protocol::permissions::SEND_MESSAGES;
use chinwag_protocol::{Event, Id};
use chinwag_realtime::RoomId;
use chinwag_store::{Cursor, NewMessage as StoreNewMessage, ThreadParentUpdate};
use serde::{Deserialize, Serialize};

use crate::access::Seen;
use crate::chat::Chat;
use crate::error::{ChatError, OrNotFound as _, Result};
use crate::validate;

/// The longest accepted nonce, in bytes.
pub const MAX_NONCE_BYTES: usize = 64;

/// A message to send.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MessageSpec {
    /// Text, 1..=4000 characters after trimming. `<@id>` mentions a user.
    pub content: String,
    /// Echoed on the resulting message and event.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Makes this a reply in that message's thread.
    #[serde(default)]
    pub thread_parent_id: Option<Id>,
}

/// Which page of history to read: at most one of `before`, `after` and
/// `around`, plus a limit (1..=100, default 50).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// Messages older than this id, newest first.
    #[serde(default)]
    pub before: Option<Id>,
    /// Messages newer than this id, oldest first.
    #[serde(default)]
    pub after: Option<Id>,
    /// This message and its neighbours, newest first.
    #[serde(default)]
    pub around: Option<Id>,
    /// Page size.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// The default history page size.
pub const DEFAULT_HISTORY_LIMIT: u32 = 50;

impl HistoryQuery {
    /// The cursor and the page size (default [`DEFAULT_HISTORY_LIMIT`]).
    fn page(&self) -> Result<(Cursor, u32)> {
        let limit = validate::limit(self.limit.unwrap_or(DEFAULT_HISTORY_LIMIT))?;
        Ok((self.cursor()?, limit))
    }

    fn cursor(&self) -> Result<Cursor> {
        match (self.before, self.after, self.around) {
            (None, None, None) => Ok(Cursor::Latest),
            (Some(id), None, None) => Ok(Cursor::Before(id)),
            (None, Some(id), None) => Ok(Cursor::After(id)),
            (None, None, Some(id)) => Ok(Cursor::Around(id)),
            _ => Err(ChatError::invalid(
                "use at most one of before, after and around",
            )),
        }
    }
}

impl Chat {
    /// Posts a message in a channel or DM the caller sees, then emits
    /// `NEW_MESSAGE` (`NEW_DM` in a DM, `NEW_THREAD_REPLY` and
    /// `THREAD_REPLY_COUNT_UPDATED` for a thread reply) carrying the nonce.
    ///
    /// In a community channel, the access check that let the caller send
    /// is remembered, and the next message is written only if what it read
    /// is unchanged (one statement instead of two); otherwise the check is
    /// made afresh.
    pub async fn send_message(
        &self,
        user: Id,
        channel_id: Id,
        spec: MessageSpec,
    ) -> Result<Message> {
        let content = validate::content(&spec.content)?;
        if spec
            .nonce
            .as_ref()
            .is_some_and(|n| n.len() > MAX_NONCE_BYTES)
        {
            return Err(ChatError::invalid("nonce must be at most 64 bytes"));
        }
        let mention_ids = validate::mentions(&content);
        let new = StoreNewMessage {
            channel_id,
            author_id: user,
            content,
            mention_ids,
            thread_parent_id: spec.thread_parent_id,
            nonce: spec.nonce,
        };
        if let Some(seen) = self.send_access.get(user, channel_id) {
            // Anything but a write (a refusal, a changed version, an error)
            // is settled by the fresh check below, which reports it right.
            if seen.require_active(SEND_MESSAGES).is_ok()
                && let Ok(Some(message)) = self.post(seen, new.clone(), true).await
            {
                return Ok(message);
            }
            self.send_access.forget(user, channel_id);
        }
        let seen = self.seen_channel(user, channel_id).await?;
        seen.require_active(SEND_MESSAGES)?;
        self.send_access.remember(user, channel_id, &seen);
        self.post(seen, new, false)
            .await?
            .ok_or(ChatError::NotFound("channel"))
    }

    /// Checks that the caller may show as typing in a channel or DM: only
    /// where it may send (it sees the channel, holds `SEND_MESSAGES`, and is
    /// not timed out). A fresh check: typing is throttled, and a remembered
    /// one is only safe in front of a guarded write.
    pub async fn check_may_type(&self, user: Id, channel_id: Id) -> Result<()> {
        self.seen_channel(user, channel_id)
            .await?
            .require_active(SEND_MESSAGES)
    }

    /// Writes a message the caller may send (`seen`), then emits its
    /// events. With `guarded`, the write happens only while `seen`'s
    /// versions are current; `None` when it did not happen.
    async fn post(
        &self,
        seen: Seen,
        new: StoreNewMessage,
        guarded: bool,
    ) -> Result<Option<Message>> {
        let (channel, room) = (seen.channel, seen.room);
        let channel_id = channel.id;
        let _turn = self.channel_writes.lock(channel_id).await;
        // The author's row came with the access check, so the store builds
        // the message from what it wrote instead of reading it back.
        let created = match (seen.caller, seen.versions) {
            (Some(author), Some(versions)) if guarded => {
                self.store
                    .create_message_if_current(new, author, versions)
                    .await
            }
            (Some(author), _) => self.store.create_message_by(new, author).await.map(Some),
            (None, _) => self.store.create_message(new).await.map(Some),
        }
        .or_not_found("thread parent")?;
        let Some(created) = created else {
            return Ok(None);
        };
        let message = created.message;
        match created.parent {
            Some(parent) => {
                self.emit(
                    &room,
                    Event::NewThreadReply(Box::new(ThreadReply {
                        message: message.clone(),
                    })),
                )
                .await;
                self.emit_reply_count(&room, channel_id, parent, Some(message.created_at))
                    .await;
            }
            None => {
                let event = if channel.community_id.is_some() {
                    Event::NewMessage(Box::new(NewMessage {
                        message: message.clone(),
                    }))
                } else {
                    Event::NewDm(Box::new(NewDm {
                        message: message.clone(),
                        channel: channel.clone(),
                    }))
                };
                self.emit(&room, event).await;
            }
        }
        self.notify_message(&message, &channel, created.parent_author_id)
            .await;
        Ok(Some(message))
    }

    /// A message in a channel the caller sees.
    pub async fn message(&self, user: Id, message_id: Id) -> Result<Message> {
        Ok(self.seen_message(user, message_id).await?.0)
    }

    /// A message the caller sees, with its channel.
    pub(crate) async fn seen_message(&self, user: Id, message_id: Id) -> Result<(Message, Seen)> {
        let message = self
            .store
            .message(message_id)
            .await
            .or_not_found("message")?;
        let seen = self
            .seen_channel(user, message.channel_id)
            .await
            .map_err(|err| match err {
                ChatError::NotFound(_) => ChatError::NotFound("message"),
                other => other,
            })?;
        Ok((message, seen))
    }

    /// Edits the caller's own message; emits `UPDATE_MESSAGE` (or
    /// `UPDATE_THREAD_REPLY`) with the new version.
    pub async fn edit_message(&self, user: Id, message_id: Id, content: &str) -> Result<Message> {
        let content = validate::content(content)?;
        let (current, seen) = self.seen_message(user, message_id).await?;
        if current.author.id != user {
            return Err(ChatError::forbidden("you can only edit your own messages"));
        }
        // A timeout stops edits as it stops sends.
        seen.require_active(0)?;
        let room = seen.room;
        let mention_ids = validate::mentions(&content);
        let _turn = self.channel_writes.lock(current.channel_id).await;
        let message = self
            .store
            .edit_message(
                message_id,
                &content,
                &mention_ids,
                chinwag_store::id::now_ms(),
            )
            .await
            .or_not_found("message")?;
        let event = if message.thread_parent_id.is_some() {
            Event::UpdateThreadReply(Box::new(ThreadReply {
                message: message.clone(),
            }))
        } else {
            Event::UpdateMessage(Box::new(UpdateMessage {
                message: message.clone(),
            }))
        };
        self.emit(&room, event).await;
        Ok(message)
    }

    /// Deletes a message: the author may, and so may a manager of its
    /// community. Emits `DELETE_MESSAGE` (or `DELETE_THREAD_REPLY` and
    /// `THREAD_REPLY_COUNT_UPDATED`).
    pub async fn delete_message(&self, user: Id, message_id: Id) -> Result<()> {
        let (current, seen) = self.seen_message(user, message_id).await?;
        let (channel, room) = (seen.channel, seen.room);
        if current.author.id != user && !self.manages_channel(user, &channel).await? {
            return Err(ChatError::forbidden(
                "you can only delete your own messages",
            ));
        }
        let _turn = self.channel_writes.lock(current.channel_id).await;
        let deleted = self
            .store
            .delete_message(message_id)
            .await
            .or_not_found("message")?;
        match deleted.thread_parent_id {
            Some(parent_id) => {
                self.emit(
                    &room,
                    Event::DeleteThreadReply(DeleteThreadReply {
                        id: deleted.id,
                        parent_id,
                        channel_id: deleted.channel_id,
                        version: deleted.version,
                    }),
                )
                .await;
                if let Some(parent) = deleted.parent {
                    self.emit_reply_count(&room, deleted.channel_id, parent, None)
                        .await;
                }
            }
            None => {
                self.emit(
                    &room,
                    Event::DeleteMessage(DeleteMessage {
                        id: deleted.id,
                        channel_id: deleted.channel_id,
                        community_id: deleted.community_id,
                        version: deleted.version,
                    }),
                )
                .await;
            }
        }
        Ok(())
    }

    /// A page of the replies in a message's thread (the parent must be a
    /// top-level message the caller sees), in the orders of
    /// [`Chat::history`].
    pub async fn thread(
        &self,
        user: Id,
        message_id: Id,
        query: &HistoryQuery,
    ) -> Result<Vec<Message>> {
        let (cursor, limit) = query.page()?;
        let (parent, _) = self.seen_message(user, message_id).await?;
        if parent.thread_parent_id.is_some() {
            return Err(ChatError::invalid(
                "a thread reply has no thread of its own",
            ));
        }
        self.store
            .thread_replies(message_id, cursor, limit)
            .await
            .or_not_found("message")
    }

    /// A page of a channel's history; see [`HistoryQuery`] for the order.
    pub async fn history(
        &self,
        user: Id,
        channel_id: Id,
        query: &HistoryQuery,
    ) -> Result<Vec<Message>> {
        let (cursor, limit) = query.page()?;
        self.visible_channel(user, channel_id).await?;
        Ok(self.store.history(channel_id, cursor, limit).await?)
    }

    async fn manages_channel(&self, user: Id, channel: &Channel) -> Result<bool> {
        match channel.community_id {
            None => Ok(false),
            Some(_) => Ok(self
                .require_in_channel(
                    user,
                    channel,
                    chinwag_protocol::permissions::MANAGE_MESSAGES,
                )
                .await
                .is_ok()),
        }
    }

    async fn emit_reply_count(
        &self,
        room: &RoomId,
        channel_id: Id,
        parent: ThreadParentUpdate,
        last_reply_at: Option<i64>,
    ) {
        self.emit(
            room,
            Event::ThreadReplyCountUpdated(ThreadReplyCountUpdated {
                message_id: parent.message_id,
                channel_id,
                reply_count: parent.reply_count,
                last_reply_at,
                version: parent.version,
            }),
        )
        .await;
    }
}
