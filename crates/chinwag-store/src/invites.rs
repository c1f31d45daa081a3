//! Invites: create, look up, use (atomically), accept, list, delete.

use chinwag_protocol::model::{Invite, Member};
use chinwag_protocol::{Id, Timestamp};
use rand::Rng as _;
use rand::distributions::Alphanumeric;

use crate::communities::BUMP_PERMISSION_VERSION;
use crate::communities::{LOCK_USER, MAX_COMMUNITIES_PER_USER, USER_COMMUNITIES, communities_full};
use crate::error::{Result, StoreError, lookup_key};
use crate::id::now_ms;
use crate::store::{BeginWrite as _, Store, room_for_one_more, with_pool, with_writer};

/// Length of generated invite codes.
pub const INVITE_CODE_LEN: usize = 10;

const INVITE_COLUMNS: &str =
    "code, community_id, creator_id, expires_at, max_uses, uses, created_at";

/// Consumes one use if the invite is live; binds `$1` code, `$2` now.
const CONSUME: &str = "UPDATE invites SET uses = uses + 1
     WHERE code = $1 AND (expires_at IS NULL OR expires_at > $2)
       AND (max_uses IS NULL OR uses < max_uses)
     RETURNING code, community_id, creator_id, expires_at, max_uses, uses, created_at";

#[derive(Debug, sqlx::FromRow)]
struct InviteRow {
    code: String,
    community_id: i64,
    creator_id: i64,
    expires_at: Option<i64>,
    max_uses: Option<i64>,
    uses: i64,
    created_at: i64,
}

impl From<InviteRow> for Invite {
    fn from(r: InviteRow) -> Self {
        Invite {
            code: r.code,
            community_id: Id(r.community_id),
            creator_id: Id(r.creator_id),
            expires_at: r.expires_at,
            max_uses: r.max_uses,
            uses: r.uses,
            created_at: r.created_at,
        }
    }
}

/// An invite to create.
#[derive(Debug, Clone)]
pub struct NewInvite {
    /// Community id.
    pub community_id: Id,
    /// Who creates it.
    pub creator_id: Id,
    /// When it stops working (`None`: never).
    pub expires_at: Option<Timestamp>,
    /// How many times it can be used (`None`: unlimited; else at least 1).
    pub max_uses: Option<i64>,
}

/// Why a live-invite check failed, given the invite row (or its absence).
fn dead_invite_error(row: Option<InviteRow>, now: Timestamp) -> StoreError {
    match row {
        None => StoreError::NotFound,
        Some(r) if r.expires_at.is_some_and(|e| e <= now) => StoreError::InviteExpired,
        Some(_) => StoreError::InviteExhausted,
    }
}

/// The most live invites (neither expired nor used up) one community holds.
pub const MAX_LIVE_INVITES: usize = 1000;

/// Counts a community's live invites: `$1` the community, `$2` now.
const LIVE_INVITES: &str = "SELECT COUNT(*) FROM invites WHERE community_id = $1
   AND (expires_at IS NULL OR expires_at > $2)
   AND (max_uses IS NULL OR uses < max_uses)";

impl Store {
    /// Creates an invite with a random code; [`StoreError::Limit`] when
    /// its community holds [`MAX_LIVE_INVITES`].
    pub async fn create_invite(&self, new: NewInvite) -> Result<Invite> {
        if new.max_uses.is_some_and(|m| m < 1) {
            return Err(StoreError::invalid("max_uses must be at least 1"));
        }
        let mut attempts = 0;
        loop {
            let code: String = rand::thread_rng()
                .sample_iter(&Alphanumeric)
                .take(INVITE_CODE_LEN)
                .map(char::from)
                .collect();
            let now = now_ms();
            let res = with_writer!(self, pool => {
                let mut tx = pool.begin_write().await?;
                room_for_one_more!(
                    self, tx, "SELECT id FROM communities WHERE id = $1", new.community_id.0,
                    LIVE_INVITES, now;
                    MAX_LIVE_INVITES,
                    format!("at most {MAX_LIVE_INVITES} live invites in a community: revoke one first")
                );
                let inserted = sqlx::query(
                    "INSERT INTO invites (code, community_id, creator_id, expires_at, max_uses, uses, created_at)
                     VALUES ($1, $2, $3, $4, $5, 0, $6)",
                )
                .bind(&code)
                .bind(new.community_id.0)
                .bind(new.creator_id.0)
                .bind(new.expires_at)
                .bind(new.max_uses)
                .bind(now)
                .execute(&mut *tx)
                .await;
                match inserted {
                    Ok(_) => tx.commit().await,
                    Err(err) => Err(err),
                }
            });
            match res.map_err(StoreError::from) {
                Ok(_) => return self.invite(&code).await,
                Err(StoreError::Conflict(_)) if attempts < 3 => attempts += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// An invite by code.
    pub async fn invite(&self, code: &str) -> Result<Invite> {
        lookup_key(code)?;
        let sql = format!("SELECT {INVITE_COLUMNS} FROM invites WHERE code = $1");
        let row: Option<InviteRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(code).fetch_optional(pool).await?);
        row.map(Invite::from).ok_or(StoreError::NotFound)
    }

    /// Consumes one use of an invite, atomically: fails with
    /// [`StoreError::InviteExpired`] after its expiry,
    /// [`StoreError::InviteExhausted`] once `uses == max_uses`, and
    /// [`StoreError::NotFound`] for an unknown code. Returns the invite
    /// after the use.
    pub async fn use_invite(&self, code: &str, now: Timestamp) -> Result<Invite> {
        lookup_key(code)?;
        let used: Option<InviteRow> = with_writer!(self, pool => sqlx::query_as(CONSUME)
            .bind(code)
            .bind(now)
            .fetch_optional(pool)
            .await?);
        match used {
            Some(row) => Ok(Invite::from(row)),
            None => {
                let sql = format!("SELECT {INVITE_COLUMNS} FROM invites WHERE code = $1");
                let row: Option<InviteRow> = with_pool!(self, pool => sqlx::query_as(&sql)
                    .bind(code)
                    .fetch_optional(pool)
                    .await?);
                Err(dead_invite_error(row, now))
            }
        }
    }

    /// Joins `user_id` to the invite's community in one transaction: checks
    /// the ban list and membership (neither consumes a use), consumes a use,
    /// and adds the member. Errors: [`StoreError::Banned`],
    /// [`StoreError::Conflict`] (already a member), [`StoreError::Limit`]
    /// (in [`MAX_COMMUNITIES_PER_USER`] communities already), and those of
    /// [`Store::use_invite`].
    pub async fn accept_invite(&self, code: &str, user_id: Id, now: Timestamp) -> Result<Member> {
        lookup_key(code)?;
        let sql = format!("SELECT {INVITE_COLUMNS} FROM invites WHERE code = $1");
        let community_id = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let invite: Option<InviteRow> =
                sqlx::query_as(&sql).bind(code).fetch_optional(&mut *tx).await?;
            let Some(invite) = invite else {
                return Err(StoreError::NotFound);
            };
            let community_id = invite.community_id;
            // First, so it locks the community's row on PostgreSQL: a ban
            // racing this join waits or is waited for, and the check below
            // sees it (otherwise both commit: a banned member).
            let found = sqlx::query(BUMP_PERMISSION_VERSION)
                .bind(community_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if found == 0 {
                // Deleted while this waited for it (its invites with it).
                return Err(StoreError::NotFound);
            }
            let banned: Option<(i64,)> =
                sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM bans WHERE community_id = $1 AND user_id = $2")
                    .bind(community_id)
                    .bind(user_id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            if banned.is_some() {
                return Err(StoreError::Banned);
            }
            let member: Option<(i64,)> =
                sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM members WHERE community_id = $1 AND user_id = $2")
                    .bind(community_id)
                    .bind(user_id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            if member.is_some() {
                return Err(StoreError::Conflict("already a member".into()));
            }
            room_for_one_more!(
                self, tx, LOCK_USER, user_id.0, USER_COMMUNITIES;
                MAX_COMMUNITIES_PER_USER, communities_full()
            );
            let used: Option<InviteRow> =
                sqlx::query_as(CONSUME).bind(code).bind(now).fetch_optional(&mut *tx).await?;
            if used.is_none() {
                return Err(dead_invite_error(Some(invite), now));
            }
            sqlx::query("INSERT INTO members (community_id, user_id, joined_at) VALUES ($1, $2, $3)")
                .bind(community_id)
                .bind(user_id.0)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Id(community_id)
        });
        self.member(community_id, user_id).await
    }

    /// A community's invites, newest first.
    pub async fn community_invites(&self, community_id: Id) -> Result<Vec<Invite>> {
        let sql = format!(
            "SELECT {INVITE_COLUMNS} FROM invites WHERE community_id = $1 ORDER BY created_at DESC, code"
        );
        let rows: Vec<InviteRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(community_id.0)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(Invite::from).collect())
    }

    /// Deletes every invite one user created in a community; how many.
    pub async fn delete_invites_by(&self, community_id: Id, creator_id: Id) -> Result<u64> {
        Ok(with_writer!(self, pool => sqlx::query(
            "DELETE FROM invites WHERE community_id = $1 AND creator_id = $2",
        )
        .bind(community_id.0)
        .bind(creator_id.0)
        .execute(pool)
        .await?
        .rows_affected()))
    }

    /// Deletes an invite; returns whether it existed.
    pub async fn delete_invite(&self, code: &str) -> Result<bool> {
        if lookup_key(code).is_err() {
            return Ok(false);
        }
        let n = with_writer!(self, pool => sqlx::query("DELETE FROM invites WHERE code = $1")
            .bind(code)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n > 0)
    }
}
