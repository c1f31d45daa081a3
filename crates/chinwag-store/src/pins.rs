//! Pins: pin, unpin, and the pinned messages of a channel.

use chinwag_protocol::Id;
use chinwag_protocol::model::Message;

use crate::error::{Result, StoreError};
use crate::id::now_ms;
use crate::messages::MessageRow;
use crate::store::{Store, with_pool, with_writer};

/// What a pin or unpin did.
#[derive(Debug, Clone)]
pub struct PinUpdate {
    /// The message as it is now.
    pub message: Message,
    /// The version this call's change gave the message, or `None` when it
    /// changed nothing (the message was already so). Decided by the
    /// `UPDATE` itself, so of two racing opposite calls each knows whether
    /// it changed anything.
    pub changed_to: Option<i64>,
}

impl Store {
    /// Pins a message (bumping its version). Pinning a pinned message
    /// changes nothing.
    pub async fn pin_message(&self, id: Id) -> Result<PinUpdate> {
        self.set_pinned(id, true).await
    }

    /// Unpins a message (bumping its version). Unpinning an unpinned
    /// message changes nothing.
    pub async fn unpin_message(&self, id: Id) -> Result<PinUpdate> {
        self.set_pinned(id, false).await
    }

    async fn set_pinned(&self, id: Id, pinned: bool) -> Result<PinUpdate> {
        let pinned_at = pinned.then(now_ms);
        let changed_to: Option<(i64,)> = with_writer!(self, pool => sqlx::query_as(
            "UPDATE messages SET pinned = $2, pinned_at = $3, version = version + 1
             WHERE id = $1 AND deleted = FALSE AND pinned <> $2
             RETURNING version",
        )
        .bind(id.0)
        .bind(pinned)
        .bind(pinned_at)
        .fetch_optional(pool)
        .await?);
        Ok(PinUpdate {
            message: self.message(id).await?,
            changed_to: changed_to.map(|(version,)| version),
        })
    }

    /// A channel's pinned messages, most recently pinned first.
    pub async fn pinned_messages(&self, channel_id: Id) -> Result<Vec<Message>> {
        let exists: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(1 AS BIGINT) FROM channels WHERE id = $1",
        )
        .bind(channel_id.0)
        .fetch_optional(pool)
        .await?);
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let sql = format!(
            "{} WHERE m.channel_id = $1 AND m.pinned = TRUE AND m.deleted = FALSE
             ORDER BY m.pinned_at DESC, m.id DESC",
            crate::messages::message_select()
        );
        let rows: Vec<MessageRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(channel_id.0)
            .fetch_all(pool)
            .await?);
        self.hydrate_messages(rows).await
    }
}
