//! Pins: pin, unpin, and the pinned messages of a channel. A channel
//! holds at most [`MAX_PINS_PER_CHANNEL`], so its list is returned whole.

use chinwag_protocol::Id;
use chinwag_protocol::model::Message;

use crate::error::{Result, StoreError};
use crate::id::now_ms;
use crate::messages::MessageRow;
use crate::store::{BackendKind, BeginWrite as _, Store, with_pool, with_writer};

/// The most messages one channel may have pinned. Pinning one more is
/// [`StoreError::Limit`]; re-pinning a pinned message is always allowed.
pub const MAX_PINS_PER_CHANNEL: i64 = 250;

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

/// Sets `pinned` (`$2`) and `pinned_at` (`$3`) on a live message (`$1`) if
/// that changes it; returns the new version, or no row.
const SET_PINNED: &str = "UPDATE messages SET pinned = $2, pinned_at = $3, version = version + 1
     WHERE id = $1 AND deleted = FALSE AND pinned <> $2
     RETURNING version";

impl Store {
    /// Pins a message (bumping its version). Pinning a pinned message
    /// changes nothing. [`StoreError::Limit`] when its channel already has
    /// [`MAX_PINS_PER_CHANNEL`] pins. Concurrent pins cannot pass the cap:
    /// on PostgreSQL they queue on the channel row (`FOR NO KEY UPDATE`,
    /// which lets messages be sent meanwhile); SQLite writes are
    /// serialized anyway.
    pub async fn pin_message(&self, id: Id) -> Result<PinUpdate> {
        let lock = match self.backend() {
            BackendKind::Postgres => " FOR NO KEY UPDATE OF c",
            BackendKind::Sqlite => "",
        };
        let channel_of = format!(
            "SELECT c.id FROM messages m JOIN channels c ON c.id = m.channel_id WHERE m.id = $1{lock}"
        );
        let changed_to = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let channel: Option<(i64,)> = sqlx::query_as(&channel_of)
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((channel_id,)) = channel else {
                return Err(StoreError::NotFound);
            };
            let changed: Option<(i64,)> = sqlx::query_as(SET_PINNED)
                .bind(id.0)
                .bind(true)
                .bind(now_ms())
                .fetch_optional(&mut *tx)
                .await?;
            if changed.is_some() {
                let (pins,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM messages
                     WHERE channel_id = $1 AND pinned = TRUE AND deleted = FALSE",
                )
                .bind(channel_id)
                .fetch_one(&mut *tx)
                .await?;
                if pins > MAX_PINS_PER_CHANNEL {
                    return Err(StoreError::Limit(format!(
                        "a channel holds at most {MAX_PINS_PER_CHANNEL} pinned messages"
                    )));
                }
            }
            tx.commit().await?;
            changed
        });
        self.pin_update(id, changed_to).await
    }

    /// Unpins a message (bumping its version). Unpinning an unpinned
    /// message changes nothing.
    pub async fn unpin_message(&self, id: Id) -> Result<PinUpdate> {
        let changed_to: Option<(i64,)> = with_writer!(self, pool => sqlx::query_as(SET_PINNED)
            .bind(id.0)
            .bind(false)
            .bind(None::<i64>)
            .fetch_optional(pool)
            .await?);
        self.pin_update(id, changed_to).await
    }

    async fn pin_update(&self, id: Id, changed_to: Option<(i64,)>) -> Result<PinUpdate> {
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
