//! Direct messages: one-to-one DMs (one channel per pair of users) and
//! group DMs (up to [`MAX_GROUP_DM_RECIPIENTS`] users). A group DM goes
//! with its last participant.

use chinwag_protocol::Id;
use chinwag_protocol::model::{Channel, ChannelKind};

use crate::channels::{CHANNEL_COLUMNS, ChannelRow, kind_str};
use crate::communities::LOCK_USER;
use crate::error::{Result, StoreError};
use crate::id::now_ms;
use crate::store::{BeginWrite as _, Store, room_for_one_more, with_pool, with_writer};

/// The most users a group DM may have, its creator included.
pub const MAX_GROUP_DM_RECIPIENTS: usize = 10;

/// The most group DMs one user is in.
pub const MAX_GROUP_DMS_PER_USER: usize = 100;

/// Counts a user's group DMs: `$1` the user, `$2` the group DM kind.
const USER_GROUP_DMS: &str = "SELECT COUNT(*) FROM channel_recipients r
   JOIN channels c ON c.id = r.channel_id AND c.kind = $2
 WHERE r.user_id = $1";

/// A page of a user's DMs.
#[derive(Debug, Clone)]
pub struct DmPage {
    /// The DMs, most recently active first.
    pub channels: Vec<Channel>,
    /// The cursor of the next page (`before`), when this one is full.
    pub next: Option<Id>,
}

/// A DM with its last activity: its last message's id, else its own.
#[derive(Debug, sqlx::FromRow)]
struct ActiveRow {
    #[sqlx(flatten)]
    channel: ChannelRow,
    active: i64,
}

/// The unique key of the DM between two users, independent of order.
fn dm_key(a: Id, b: Id) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

impl Store {
    /// The one-to-one DM between two users, created if missing. Returns the
    /// channel and whether this call created it. Both users must exist.
    pub async fn open_dm(&self, a: Id, b: Id) -> Result<(Channel, bool)> {
        if a == b {
            return Err(StoreError::invalid("a DM needs two different users"));
        }
        let key = dm_key(a, b);
        let id = self.next_id();
        let (channel_id, created) = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO channels (id, community_id, kind, name, dm_key, created_at)
                 VALUES ($1, NULL, $2, '', $3, $4) ON CONFLICT (dm_key) DO NOTHING",
            )
            .bind(id.0)
            .bind(kind_str(ChannelKind::Dm))
            .bind(&key)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if inserted {
                for user in [a, b] {
                    sqlx::query("INSERT INTO channel_recipients (channel_id, user_id) VALUES ($1, $2)")
                        .bind(id.0)
                        .bind(user.0)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let (existing,): (i64,) = sqlx::query_as("SELECT id FROM channels WHERE dm_key = $1")
                .bind(&key)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            (Id(existing), inserted)
        });
        Ok((self.channel(channel_id).await?, created))
    }

    /// Creates a group DM of `owner` and `recipients` (duplicates ignored),
    /// at most [`MAX_GROUP_DM_RECIPIENTS`] users in all and at least two.
    /// [`StoreError::Limit`] when one of them is in
    /// [`MAX_GROUP_DMS_PER_USER`] group DMs already.
    pub async fn create_group_dm(
        &self,
        owner: Id,
        recipients: &[Id],
        name: &str,
    ) -> Result<Channel> {
        let mut users = vec![owner];
        for r in recipients {
            if !users.contains(r) {
                users.push(*r);
            }
        }
        if users.len() < 2 || users.len() > MAX_GROUP_DM_RECIPIENTS {
            return Err(StoreError::invalid(format!(
                "a group DM has 2..={MAX_GROUP_DM_RECIPIENTS} users"
            )));
        }
        let id = self.next_id();
        // Locked in id order, so two creates sharing users cannot deadlock.
        let mut by_id = users.clone();
        by_id.sort_unstable();
        let kind = kind_str(ChannelKind::GroupDm);
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for user in &by_id {
                let full = if *user == owner {
                    format!("at most {MAX_GROUP_DMS_PER_USER} group DMs per user: leave one first")
                } else {
                    format!("a recipient is in {MAX_GROUP_DMS_PER_USER} group DMs, the most there may be")
                };
                room_for_one_more!(
                    self, tx, LOCK_USER, user.0, USER_GROUP_DMS, kind;
                    MAX_GROUP_DMS_PER_USER, full
                );
            }
            sqlx::query(
                "INSERT INTO channels (id, community_id, kind, name, created_at)
                 VALUES ($1, NULL, $2, $3, $4)",
            )
            .bind(id.0)
            .bind(kind_str(ChannelKind::GroupDm))
            .bind(name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            for user in &users {
                sqlx::query("INSERT INTO channel_recipients (channel_id, user_id) VALUES ($1, $2)")
                    .bind(id.0)
                    .bind(user.0)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        self.channel(id).await
    }

    /// Takes `user_id` out of a group DM and bumps the channel's version;
    /// whether they were in it. The last one out deletes the group DM with
    /// its messages: nobody could see them any more.
    pub async fn leave_group_dm(&self, channel_id: Id, user_id: Id) -> Result<bool> {
        let lock = format!("SELECT id FROM channels WHERE id = $1{}", self.row_lock());
        let left = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // Two last participants leaving at once: the second waits here,
            // then sees the first one gone and deletes the channel.
            sqlx::query(&lock).bind(channel_id.0).fetch_optional(&mut *tx).await?;
            let removed = sqlx::query(
                "DELETE FROM channel_recipients WHERE channel_id = $1 AND user_id = $2
                   AND EXISTS (SELECT 1 FROM channels WHERE id = $1 AND kind = $3)",
            )
            .bind(channel_id.0)
            .bind(user_id.0)
            .bind(kind_str(ChannelKind::GroupDm))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if removed {
                sqlx::query("UPDATE channels SET version = version + 1 WHERE id = $1")
                    .bind(channel_id.0)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "DELETE FROM channels WHERE id = $1
                       AND NOT EXISTS (SELECT 1 FROM channel_recipients WHERE channel_id = $1)",
                )
                .bind(channel_id.0)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            removed
        });
        Ok(left)
    }

    /// A page of a user's DMs and group DMs, most recently active first
    /// (by their last message, else their creation): at most `limit`, each
    /// less recently active than the cursor `before` if given. A DM that
    /// becomes active meanwhile moves above the cursor, so paging neither
    /// repeats nor loops.
    pub async fn user_dms(&self, user_id: Id, before: Option<Id>, limit: u32) -> Result<DmPage> {
        let limit = crate::store::check_limit(limit)?;
        let sql = format!(
            "WITH mine AS (
               SELECT r.channel_id AS id,
                      COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.channel_id = r.channel_id),
                               r.channel_id) AS active
                 FROM channel_recipients r WHERE r.user_id = $1)
             SELECT {CHANNEL_COLUMNS}, mine.active FROM channels c JOIN mine ON mine.id = c.id
             WHERE $2 = 0 OR mine.active < $2
             ORDER BY mine.active DESC
             LIMIT $3"
        );
        let rows: Vec<ActiveRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(user_id.0)
            .bind(before.map_or(0, |id| id.0))
            .bind(limit)
            .fetch_all(pool)
            .await?);
        let next = match rows.last() {
            Some(last) if rows.len() as i64 == limit => Some(Id(last.active)),
            _ => None,
        };
        let channels = self
            .attach_recipients(rows.into_iter().map(|r| r.channel).collect())
            .await?;
        Ok(DmPage { channels, next })
    }

    /// The ids of every DM and group DM a user is in.
    pub async fn user_dm_ids(&self, user_id: Id) -> Result<Vec<Id>> {
        let rows: Vec<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT channel_id FROM channel_recipients WHERE user_id = $1",
        )
        .bind(user_id.0)
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().map(|(id,)| Id(id)).collect())
    }

    /// The users in a DM or group DM.
    pub async fn dm_recipients(&self, channel_id: Id) -> Result<Vec<Id>> {
        let rows: Vec<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT user_id FROM channel_recipients WHERE channel_id = $1 ORDER BY user_id",
        )
        .bind(channel_id.0)
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().map(|(id,)| Id(id)).collect())
    }

    /// Whether a user is in a DM or group DM.
    pub async fn is_dm_recipient(&self, channel_id: Id, user_id: Id) -> Result<bool> {
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(1 AS BIGINT) FROM channel_recipients WHERE channel_id = $1 AND user_id = $2",
        )
        .bind(channel_id.0)
        .bind(user_id.0)
        .fetch_optional(pool)
        .await?);
        Ok(row.is_some())
    }
}
