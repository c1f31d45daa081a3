//! Reactions: add and remove (idempotent), returning the emoji's summary.
//! A message holds at most [`MAX_DISTINCT_EMOJI`] distinct emoji.

use chinwag_protocol::Id;
use chinwag_protocol::model::ReactionSummary;

use crate::error::{Result, StoreError};
use crate::store::{BeginWrite as _, Store, with_writer};

/// The longest emoji string accepted (a Unicode sequence or custom name).
pub const MAX_EMOJI_LEN: usize = 64;

/// The most distinct emoji one message may carry. Adding a new one to a
/// message that has them all is [`StoreError::Limit`]; reacting with an
/// emoji already there is always allowed.
pub const MAX_DISTINCT_EMOJI: usize = 20;

/// The state of one emoji on one message after an add or remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionUpdate {
    /// The message.
    pub message_id: Id,
    /// Its channel.
    pub channel_id: Id,
    /// Its community (`None` in DMs).
    pub community_id: Option<Id>,
    /// The emoji's reactions now (count 0 when the last one was removed).
    pub summary: ReactionSummary,
    /// The message's version now.
    pub version: i64,
    /// Whether anything changed (adding twice or removing a missing
    /// reaction changes nothing and bumps no version).
    pub changed: bool,
}

impl Store {
    /// Adds `user_id`'s `emoji` reaction to a message; idempotent.
    /// [`StoreError::Limit`] if the emoji is new to a message that already
    /// has [`MAX_DISTINCT_EMOJI`]. Concurrent adds cannot pass the cap: on
    /// PostgreSQL they queue on the message row (`FOR UPDATE`); SQLite
    /// writes are serialized anyway (`BEGIN IMMEDIATE`).
    pub async fn add_reaction(
        &self,
        message_id: Id,
        user_id: Id,
        emoji: &str,
    ) -> Result<ReactionUpdate> {
        self.change_reaction(message_id, user_id, emoji, true).await
    }

    /// Removes `user_id`'s `emoji` reaction from a message; idempotent.
    pub async fn remove_reaction(
        &self,
        message_id: Id,
        user_id: Id,
        emoji: &str,
    ) -> Result<ReactionUpdate> {
        self.change_reaction(message_id, user_id, emoji, false)
            .await
    }

    async fn change_reaction(
        &self,
        message_id: Id,
        user_id: Id,
        emoji: &str,
        add: bool,
    ) -> Result<ReactionUpdate> {
        if emoji.is_empty() || emoji.len() > MAX_EMOJI_LEN {
            return Err(StoreError::invalid(format!(
                "emoji must be 1..={MAX_EMOJI_LEN} bytes"
            )));
        }
        let seq = self.next_id();
        // On PostgreSQL an add locks the message row, so that the count of
        // distinct emoji below stays true until this transaction ends.
        let lock = if add { self.row_lock() } else { "" };
        let select = format!(
            "SELECT channel_id, community_id, version FROM messages WHERE id = $1 AND deleted = FALSE{lock}"
        );
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let msg: Option<(i64, Option<i64>, i64)> = sqlx::query_as(&select)
            .bind(message_id.0)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((channel_id, community_id, mut version)) = msg else {
                return Err(StoreError::NotFound);
            };
            if add {
                let (distinct, this_one): (i64, i64) = sqlx::query_as(
                    "SELECT COUNT(DISTINCT emoji), COUNT(CASE WHEN emoji = $2 THEN 1 END)
                     FROM reactions WHERE message_id = $1",
                )
                .bind(message_id.0)
                .bind(emoji)
                .fetch_one(&mut *tx)
                .await?;
                if this_one == 0 && distinct >= MAX_DISTINCT_EMOJI as i64 {
                    return Err(StoreError::Limit(format!(
                        "a message holds at most {MAX_DISTINCT_EMOJI} distinct reactions"
                    )));
                }
            }
            let q = if add {
                sqlx::query(
                    "INSERT INTO reactions (message_id, emoji, user_id, seq) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                )
                .bind(message_id.0)
                .bind(emoji)
                .bind(user_id.0)
                .bind(seq.0)
            } else {
                sqlx::query(
                    "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3",
                )
                .bind(message_id.0)
                .bind(emoji)
                .bind(user_id.0)
            };
            let changed = q.execute(&mut *tx).await?.rows_affected() > 0;
            if changed {
                let (v,): (i64,) = sqlx::query_as(
                    "UPDATE messages SET version = version + 1 WHERE id = $1 RETURNING version",
                )
                .bind(message_id.0)
                .fetch_one(&mut *tx)
                .await?;
                version = v;
            }
            let users: Vec<(i64,)> = sqlx::query_as(
                "SELECT user_id FROM reactions WHERE message_id = $1 AND emoji = $2 ORDER BY seq",
            )
            .bind(message_id.0)
            .bind(emoji)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            let user_ids: Vec<Id> = users.into_iter().map(|(u,)| Id(u)).collect();
            Ok(ReactionUpdate {
                message_id,
                channel_id: Id(channel_id),
                community_id: community_id.map(Id),
                summary: ReactionSummary {
                    emoji: emoji.to_owned(),
                    count: user_ids.len() as i64,
                    user_ids,
                },
                version,
                changed,
            })
        })
    }
}
