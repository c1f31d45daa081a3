//! Direct messages: one-to-one DMs (one channel per pair of users) and
//! group DMs (up to [`MAX_GROUP_DM_RECIPIENTS`] users).

use chinwag_protocol::Id;
use chinwag_protocol::model::{Channel, ChannelKind};

use crate::channels::{CHANNEL_COLUMNS, ChannelRow, kind_str};
use crate::error::{Result, StoreError};
use crate::id::now_ms;
use crate::store::{BeginWrite as _, Store, with_pool, with_writer};

/// The most users a group DM may have, its creator included.
pub const MAX_GROUP_DM_RECIPIENTS: usize = 10;

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
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
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
    /// whether they were in it. A group DM left by everyone stays, with
    /// its messages, seen by nobody.
    pub async fn leave_group_dm(&self, channel_id: Id, user_id: Id) -> Result<bool> {
        let left = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
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
            }
            tx.commit().await?;
            removed
        });
        Ok(left)
    }

    /// A user's DMs and group DMs, most recently active first.
    pub async fn user_dms(&self, user_id: Id) -> Result<Vec<Channel>> {
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels c
             JOIN channel_recipients r ON r.channel_id = c.id
             WHERE r.user_id = $1
             ORDER BY COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.channel_id = c.id), c.id) DESC"
        );
        let rows: Vec<ChannelRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(user_id.0).fetch_all(pool).await?);
        self.attach_recipients(rows).await
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
