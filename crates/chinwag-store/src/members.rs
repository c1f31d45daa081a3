//! Members (join, leave, list, timeouts, nicknames) and bans.
//!
//! Membership changes bump the community's `permission_version` in the same
//! transaction.

use std::collections::HashMap;

use chinwag_protocol::model::{Member, User};
use chinwag_protocol::{Id, Timestamp};

use crate::accounts::{USER_COLUMNS, UserRow};
use crate::communities::{
    BUMP_PERMISSION_VERSION, LOCK_USER, MAX_COMMUNITIES_PER_USER, USER_COMMUNITIES,
    communities_full,
};
use crate::error::{Result, StoreError};
use crate::id::now_ms;
use crate::store::{
    BeginWrite as _, Store, check_limit, placeholders, room_for_one_more, with_pool, with_writer,
};

#[derive(Debug, sqlx::FromRow)]
struct MemberRow {
    #[sqlx(flatten)]
    user: UserRow,
    community_id: i64,
    nickname: Option<String>,
    joined_at: i64,
    timed_out_until: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
struct BanRow {
    #[sqlx(flatten)]
    user: UserRow,
    community_id: i64,
    actor_id: i64,
    reason: Option<String>,
    banned_at: i64,
}

/// A ban of a user from a community.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// Community id.
    pub community_id: Id,
    /// The banned user.
    pub user: User,
    /// Who banned them.
    pub actor_id: Id,
    /// Why.
    pub reason: Option<String>,
    /// When.
    pub created_at: Timestamp,
}

/// Deletes a user's private-channel access in a community; binds `$1`
/// community, `$2` user.
const DELETE_PRIVATE_ACCESS: &str = "DELETE FROM private_channel_members
     WHERE user_id = $2 AND channel_id IN (SELECT id FROM channels WHERE community_id = $1)";

impl Store {
    /// Adds a user to a community. [`StoreError::Banned`] if banned,
    /// [`StoreError::Conflict`] if already a member, [`StoreError::Limit`]
    /// if in [`MAX_COMMUNITIES_PER_USER`] communities already.
    pub async fn add_member(&self, community_id: Id, user_id: Id) -> Result<Member> {
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // The community's row, then the user's: the order an invite's
            // join takes them in.
            sqlx::query(BUMP_PERMISSION_VERSION).bind(community_id.0).execute(&mut *tx).await?;
            room_for_one_more!(
                self, tx, LOCK_USER, user_id.0, USER_COMMUNITIES;
                MAX_COMMUNITIES_PER_USER, communities_full()
            );
            let banned: Option<(i64,)> =
                sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM bans WHERE community_id = $1 AND user_id = $2")
                    .bind(community_id.0)
                    .bind(user_id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            if banned.is_some() {
                return Err(StoreError::Banned);
            }
            sqlx::query("INSERT INTO members (community_id, user_id, joined_at) VALUES ($1, $2, $3)")
                .bind(community_id.0)
                .bind(user_id.0)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        self.member(community_id, user_id).await
    }

    /// Removes a member (a leave or a kick), with their roles and private
    /// channel access. [`StoreError::NotFound`] if not a member.
    pub async fn remove_member(&self, community_id: Id, user_id: Id) -> Result<()> {
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query("DELETE FROM members WHERE community_id = $1 AND user_id = $2")
                .bind(community_id.0)
                .bind(user_id.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(DELETE_PRIVATE_ACCESS)
                .bind(community_id.0)
                .bind(user_id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(BUMP_PERMISSION_VERSION).bind(community_id.0).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// One member.
    pub async fn member(&self, community_id: Id, user_id: Id) -> Result<Member> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, m.community_id, m.nickname, m.joined_at, m.timed_out_until
             FROM members m JOIN users u ON u.id = m.user_id
             WHERE m.community_id = $1 AND m.user_id = $2"
        );
        let row: Option<MemberRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(community_id.0)
            .bind(user_id.0)
            .fetch_optional(pool)
            .await?);
        let row = row.ok_or(StoreError::NotFound)?;
        let mut members = self.attach_role_ids(community_id, vec![row]).await?;
        members.pop().ok_or(StoreError::NotFound)
    }

    /// A page of members ordered by user id, starting after `after`.
    pub async fn members(
        &self,
        community_id: Id,
        after: Option<Id>,
        limit: u32,
    ) -> Result<Vec<Member>> {
        let limit = check_limit(limit)?;
        let sql = format!(
            "SELECT {USER_COLUMNS}, m.community_id, m.nickname, m.joined_at, m.timed_out_until
             FROM members m JOIN users u ON u.id = m.user_id
             WHERE m.community_id = $1 AND m.user_id > $2
             ORDER BY m.user_id LIMIT $3"
        );
        let rows: Vec<MemberRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(community_id.0)
            .bind(after.map_or(i64::MIN, |a| a.0))
            .bind(limit)
            .fetch_all(pool)
            .await?);
        self.attach_role_ids(community_id, rows).await
    }

    /// The ids of every member of a community (for joining rooms and fan-out).
    pub async fn member_ids(&self, community_id: Id) -> Result<Vec<Id>> {
        let rows: Vec<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT user_id FROM members WHERE community_id = $1 ORDER BY user_id",
        )
        .bind(community_id.0)
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().map(|(id,)| Id(id)).collect())
    }

    /// Whether a user is a member of a community.
    pub async fn is_member(&self, community_id: Id, user_id: Id) -> Result<bool> {
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(1 AS BIGINT) FROM members WHERE community_id = $1 AND user_id = $2",
        )
        .bind(community_id.0)
        .bind(user_id.0)
        .fetch_optional(pool)
        .await?);
        Ok(row.is_some())
    }

    /// Whether two users share a community or a DM (a user shares with
    /// themself only through those too).
    pub async fn share_a_space(&self, a: Id, b: Id) -> Result<bool> {
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(1 AS BIGINT) FROM members x JOIN members y ON y.community_id = x.community_id
               WHERE x.user_id = $1 AND y.user_id = $2
             UNION ALL
             SELECT CAST(1 AS BIGINT) FROM channel_recipients x
               JOIN channel_recipients y ON y.channel_id = x.channel_id
               WHERE x.user_id = $1 AND y.user_id = $2
             LIMIT 1",
        )
        .bind(a.0)
        .bind(b.0)
        .fetch_optional(pool)
        .await?);
        Ok(row.is_some())
    }

    /// Those of `others` who share a community or a DM with `user` (see
    /// [`Store::share_a_space`]), in one query.
    pub async fn acquaintances_among(&self, user: Id, others: &[Id]) -> Result<Vec<Id>> {
        if others.is_empty() {
            return Ok(Vec::new());
        }
        let list = crate::store::placeholders(2, others.len());
        let sql = format!(
            "SELECT y.user_id FROM members x JOIN members y ON y.community_id = x.community_id
               WHERE x.user_id = $1 AND y.user_id IN ({list})
             UNION
             SELECT y.user_id FROM channel_recipients x
               JOIN channel_recipients y ON y.channel_id = x.channel_id
               WHERE x.user_id = $1 AND y.user_id IN ({list})"
        );
        let rows: Vec<(i64,)> = with_pool!(self, pool => {
            let mut q = sqlx::query_as(&sql).bind(user.0);
            for id in others {
                q = q.bind(id.0);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|(id,)| Id(id)).collect())
    }

    /// The role ids a member holds, besides @everyone.
    pub async fn member_role_ids(&self, community_id: Id, user_id: Id) -> Result<Vec<Id>> {
        let rows: Vec<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT role_id FROM member_roles WHERE community_id = $1 AND user_id = $2 ORDER BY role_id",
        )
        .bind(community_id.0)
        .bind(user_id.0)
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().map(|(id,)| Id(id)).collect())
    }

    /// Sets (`Some`) or clears (`None`) a member's timeout.
    pub async fn set_timeout(
        &self,
        community_id: Id,
        user_id: Id,
        until: Option<Timestamp>,
    ) -> Result<Member> {
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE members SET timed_out_until = $3 WHERE community_id = $1 AND user_id = $2",
            )
            .bind(community_id.0)
            .bind(user_id.0)
            .bind(until)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(BUMP_PERMISSION_VERSION).bind(community_id.0).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        self.member(community_id, user_id).await
    }

    /// Sets (`Some`) or clears (`None`) a member's nickname.
    pub async fn set_nickname(
        &self,
        community_id: Id,
        user_id: Id,
        nickname: Option<&str>,
    ) -> Result<Member> {
        let n = with_writer!(self, pool => sqlx::query(
            "UPDATE members SET nickname = $3 WHERE community_id = $1 AND user_id = $2",
        )
        .bind(community_id.0)
        .bind(user_id.0)
        .bind(nickname)
        .execute(pool)
        .await?
        .rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.member(community_id, user_id).await
    }

    /// Bans a user (member or not): removes the membership, roles and
    /// private channel access, and records the ban. Banning again replaces
    /// the reason and actor.
    pub async fn ban(
        &self,
        community_id: Id,
        user_id: Id,
        actor_id: Id,
        reason: Option<&str>,
    ) -> Result<Ban> {
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // First, so it locks the community's row on PostgreSQL (as an
            // invite's acceptance does): a join racing the ban either
            // committed before (its member row is deleted below) or sees
            // the ban.
            sqlx::query(BUMP_PERMISSION_VERSION).bind(community_id.0).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM members WHERE community_id = $1 AND user_id = $2")
                .bind(community_id.0)
                .bind(user_id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(DELETE_PRIVATE_ACCESS)
                .bind(community_id.0)
                .bind(user_id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO bans (community_id, user_id, actor_id, reason, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (community_id, user_id)
                 DO UPDATE SET actor_id = excluded.actor_id, reason = excluded.reason",
            )
            .bind(community_id.0)
            .bind(user_id.0)
            .bind(actor_id.0)
            .bind(reason)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        self.bans_where(community_id, "b.user_id = $2", user_id.0, 1)
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    /// Lifts a ban; returns whether there was one.
    pub async fn unban(&self, community_id: Id, user_id: Id) -> Result<bool> {
        let n = with_writer!(self, pool => sqlx::query(
            "DELETE FROM bans WHERE community_id = $1 AND user_id = $2",
        )
        .bind(community_id.0)
        .bind(user_id.0)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n > 0)
    }

    /// Whether a user is banned from a community.
    pub async fn is_banned(&self, community_id: Id, user_id: Id) -> Result<bool> {
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(1 AS BIGINT) FROM bans WHERE community_id = $1 AND user_id = $2",
        )
        .bind(community_id.0)
        .bind(user_id.0)
        .fetch_optional(pool)
        .await?);
        Ok(row.is_some())
    }

    /// Who placed a user's ban in a community; `None` if not banned.
    pub async fn ban_author(&self, community_id: Id, user_id: Id) -> Result<Option<Id>> {
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT actor_id FROM bans WHERE community_id = $1 AND user_id = $2",
        )
        .bind(community_id.0)
        .bind(user_id.0)
        .fetch_optional(pool)
        .await?);
        Ok(row.map(|(id,)| Id(id)))
    }

    /// A page of a community's bans by banned user id: `limit` (1..=100)
    /// after the user `after`, or the first ones.
    pub async fn bans(&self, community_id: Id, after: Option<Id>, limit: u32) -> Result<Vec<Ban>> {
        let limit = check_limit(limit)?;
        let after = after.map_or(i64::MIN, |a| a.0);
        self.bans_where(community_id, "b.user_id > $2", after, limit)
            .await
    }

    /// The bans of a community matching `filter` (on `$2` = `arg`), by
    /// banned user id, at most `limit`.
    async fn bans_where(
        &self,
        community_id: Id,
        filter: &str,
        arg: i64,
        limit: i64,
    ) -> Result<Vec<Ban>> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, b.community_id, b.actor_id, b.reason, b.created_at AS banned_at
             FROM bans b JOIN users u ON u.id = b.user_id
             WHERE b.community_id = $1 AND {filter}
             ORDER BY b.user_id LIMIT $3"
        );
        let rows: Vec<BanRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(community_id.0)
            .bind(arg)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|r| Ban {
                community_id: Id(r.community_id),
                user: r.user.into(),
                actor_id: Id(r.actor_id),
                reason: r.reason,
                created_at: r.banned_at,
            })
            .collect())
    }

    async fn attach_role_ids(&self, community_id: Id, rows: Vec<MemberRow>) -> Result<Vec<Member>> {
        let mut roles: HashMap<i64, Vec<Id>> = HashMap::new();
        if !rows.is_empty() {
            let sql = format!(
                "SELECT user_id, role_id FROM member_roles
                 WHERE community_id = $1 AND user_id IN ({}) ORDER BY role_id",
                placeholders(2, rows.len())
            );
            let pairs: Vec<(i64, i64)> = with_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql).bind(community_id.0);
                for r in &rows {
                    q = q.bind(r.user.id);
                }
                q.fetch_all(pool).await?
            });
            for (user, role) in pairs {
                roles.entry(user).or_default().push(Id(role));
            }
        }
        Ok(rows
            .into_iter()
            .map(|r| Member {
                community_id: Id(r.community_id),
                role_ids: roles.remove(&r.user.id).unwrap_or_default(),
                user: r.user.into(),
                nickname: r.nickname,
                joined_at: r.joined_at,
                timed_out_until: r.timed_out_until,
            })
            .collect())
    }
}
