//! Read states: a user's read position per channel, with unread and
//! mention counters.
//!
//! `unread_count` counts the channel's live top-level messages after the
//! read position that the user did not write; `mention_count` counts those
//! of them that mention the user.

use chinwag_protocol::Id;
use chinwag_protocol::model::ReadState;

use crate::error::{Result, StoreError};
use crate::store::{BeginWrite as _, Store, with_pool, with_writer};

/// Counts for `$1` channel, `$2` user, `$3` read position (0 for none).
const COUNTS: &str = "SELECT
    (SELECT COUNT(*) FROM messages m
      WHERE m.channel_id = $1 AND m.thread_parent_id IS NULL AND m.deleted = FALSE
        AND m.author_id <> $2 AND m.id > $3) AS unread_count,
    (SELECT COUNT(*) FROM messages m
      JOIN message_mentions mm ON mm.message_id = m.id AND mm.user_id = $2
      WHERE m.channel_id = $1 AND m.thread_parent_id IS NULL AND m.deleted = FALSE
        AND m.author_id <> $2 AND m.id > $3) AS mention_count";

#[derive(Debug, sqlx::FromRow)]
struct ReadStateRow {
    channel_id: i64,
    last_read_message_id: Option<i64>,
    version: i64,
    unread_count: i64,
    mention_count: i64,
}

impl From<ReadStateRow> for ReadState {
    fn from(r: ReadStateRow) -> Self {
        ReadState {
            channel_id: Id(r.channel_id),
            last_read_message_id: r.last_read_message_id.map(Id),
            unread_count: r.unread_count,
            mention_count: r.mention_count,
            version: r.version,
        }
    }
}

impl Store {
    /// Moves a user's read position in a channel to `message_id` (forward
    /// or back), bumps the read state's version, and returns it with fresh
    /// counters. [`StoreError::NotFound`] unless the message is in the
    /// channel.
    pub async fn mark_read(
        &self,
        user_id: Id,
        channel_id: Id,
        message_id: Id,
    ) -> Result<ReadState> {
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let exists: Option<(i64,)> =
                sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM messages WHERE id = $1 AND channel_id = $2")
                    .bind(message_id.0)
                    .bind(channel_id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            let (version,): (i64,) = sqlx::query_as(
                "INSERT INTO read_states (user_id, channel_id, last_read_message_id, version)
                 VALUES ($1, $2, $3, 1)
                 ON CONFLICT (user_id, channel_id) DO UPDATE
                   SET last_read_message_id = excluded.last_read_message_id,
                       version = read_states.version + 1
                 RETURNING version",
            )
            .bind(user_id.0)
            .bind(channel_id.0)
            .bind(message_id.0)
            .fetch_one(&mut *tx)
            .await?;
            let (unread_count, mention_count): (i64, i64) = sqlx::query_as(COUNTS)
                .bind(channel_id.0)
                .bind(user_id.0)
                .bind(message_id.0)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(ReadState {
                channel_id,
                last_read_message_id: Some(message_id),
                unread_count,
                mention_count,
                version,
            })
        })
    }

    /// A user's read state in one channel. Without a stored position every
    /// message counts as unread and the version is 0.
    pub async fn read_state(&self, user_id: Id, channel_id: Id) -> Result<ReadState> {
        with_pool!(self, pool => {
            let channel: Option<(i64,)> = sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM channels WHERE id = $1")
                .bind(channel_id.0)
                .fetch_optional(pool)
                .await?;
            if channel.is_none() {
                return Err(StoreError::NotFound);
            }
            let stored: Option<(Option<i64>, i64)> = sqlx::query_as(
                "SELECT last_read_message_id, version FROM read_states
                 WHERE user_id = $1 AND channel_id = $2",
            )
            .bind(user_id.0)
            .bind(channel_id.0)
            .fetch_optional(pool)
            .await?;
            let (last_read, version) = stored.unwrap_or((None, 0));
            let (unread_count, mention_count): (i64, i64) = sqlx::query_as(COUNTS)
                .bind(channel_id.0)
                .bind(user_id.0)
                .bind(last_read.unwrap_or(0))
                .fetch_one(pool)
                .await?;
            Ok(ReadState {
                channel_id,
                last_read_message_id: last_read.map(Id),
                unread_count,
                mention_count,
                version,
            })
        })
    }

    /// Every stored read state of a user, by channel id.
    pub async fn read_states(&self, user_id: Id) -> Result<Vec<ReadState>> {
        let rows: Vec<ReadStateRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT rs.channel_id, rs.last_read_message_id, rs.version,
                (SELECT COUNT(*) FROM messages m
                  WHERE m.channel_id = rs.channel_id AND m.thread_parent_id IS NULL
                    AND m.deleted = FALSE AND m.author_id <> rs.user_id
                    AND m.id > COALESCE(rs.last_read_message_id, 0)) AS unread_count,
                (SELECT COUNT(*) FROM messages m
                  JOIN message_mentions mm ON mm.message_id = m.id AND mm.user_id = rs.user_id
                  WHERE m.channel_id = rs.channel_id AND m.thread_parent_id IS NULL
                    AND m.deleted = FALSE AND m.author_id <> rs.user_id
                    AND m.id > COALESCE(rs.last_read_message_id, 0)) AS mention_count
             FROM read_states rs WHERE rs.user_id = $1 ORDER BY rs.channel_id",
        )
        .bind(user_id.0)
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().map(ReadState::from).collect())
    }
}
