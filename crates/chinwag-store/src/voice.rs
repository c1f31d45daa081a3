//! Voice presence as shared state (no media): who is in which voice
//! channel or DM call, muted and deafened, with a per-user version that
//! grows on every join, update and leave. Every node reads the same rows.

use chinwag_protocol::Id;
use chinwag_protocol::model::VoiceState;

use crate::error::{Result, StoreError};
use crate::id::now_ms;
use crate::store::{BeginWrite as _, Store, with_pool, with_writer};

/// A `voice_states` row, as [`COLUMNS`] reads it.
pub(crate) type Row = (i64, Option<i64>, Option<i64>, bool, bool, i64, i64);

pub(crate) const COLUMNS: &str =
    "user_id, channel_id, community_id, muted, deafened, joined_at, version";

/// The state in a row; `None` while the user is in no channel.
pub(crate) fn state(r: Row) -> Option<VoiceState> {
    Some(VoiceState {
        user_id: Id(r.0),
        channel_id: Id(r.1?),
        community_id: r.2.map(Id),
        muted: r.3,
        deafened: r.4,
        joined_at: r.5,
        version: r.6,
    })
}

/// How [`Store::delete_ending_voice`] deletes something voice channels
/// belong to.
pub(crate) struct VoiceDeletion<'a> {
    /// Locks the row to delete and finds it (`NOT_FOUND` without one).
    pub lock: String,
    /// Further rows to lock first (none on SQLite, whose writer is alone).
    pub also_lock: Option<String>,
    /// Which voice states end: a condition on `channel_id` taking `$1`.
    pub channels: &'a str,
    /// The delete itself, taking `$1`.
    pub delete: &'a str,
}

impl Store {
    /// In one transaction: locks what is deleted (so on PostgreSQL a voice
    /// join racing it waits, then fails its foreign key check instead of
    /// being cleared unseen), bumps the versions of the voice states in
    /// its channels, and deletes it (the foreign key clears their
    /// `channel_id`). Returns those states, each at its new version.
    pub(crate) async fn delete_ending_voice(
        &self,
        id: Id,
        how: VoiceDeletion<'_>,
    ) -> Result<Vec<VoiceState>> {
        let leave = format!(
            "UPDATE voice_states SET version = version + 1 WHERE channel_id {} RETURNING {COLUMNS}",
            how.channels
        );
        let left: Vec<Row> = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let found: Option<(i64,)> = sqlx::query_as(&how.lock)
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(crate::error::StoreError::NotFound);
            }
            if let Some(also) = &how.also_lock {
                sqlx::query(also).bind(id.0).execute(&mut *tx).await?;
            }
            let left: Vec<Row> = sqlx::query_as(&leave).bind(id.0).fetch_all(&mut *tx).await?;
            sqlx::query(how.delete).bind(id.0).execute(&mut *tx).await?;
            tx.commit().await?;
            left
        });
        Ok(left.into_iter().filter_map(state).collect())
    }
}

/// What a join changed.
#[derive(Debug, Clone)]
pub struct VoiceJoin {
    /// The new state.
    pub state: VoiceState,
    /// The state the user left to join (another channel), with its
    /// leaving version.
    pub left: Option<VoiceState>,
    /// Whether this join started a DM call: nobody else was in it. Decided
    /// in the join's transaction under the DM channel's row lock, so of two
    /// first joins on two nodes exactly one starts the call.
    pub call_started: bool,
}

impl Store {
    /// A user's current voice state, if in a channel or call.
    pub async fn voice_state(&self, user_id: Id) -> Result<Option<VoiceState>> {
        let sql = format!("SELECT {COLUMNS} FROM voice_states WHERE user_id = $1");
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(user_id.0)
            .fetch_optional(pool)
            .await?);
        Ok(row.and_then(state))
    }

    /// The users in any voice channel or DM call.
    pub async fn users_in_voice(&self) -> Result<Vec<Id>> {
        let rows: Vec<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT user_id FROM voice_states WHERE channel_id IS NOT NULL ORDER BY user_id",
        )
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().map(|(id,)| Id(id)).collect())
    }

    /// Everyone in a voice channel or DM call, by join time.
    pub async fn voice_states(&self, channel_id: Id) -> Result<Vec<VoiceState>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM voice_states WHERE channel_id = $1 ORDER BY joined_at, user_id"
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(channel_id.0)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().filter_map(state).collect())
    }

    /// Puts a user in a voice channel or DM call (leaving any other). A
    /// move from another channel takes two versions: one for leaving it
    /// (`left`), the next for the join. The user's row is read and written
    /// in one transaction (locked on PostgreSQL), so concurrent changes of
    /// one user's voice state queue instead of sharing a version. A DM
    /// call takes only its participants ([`StoreError::NotFound`] for
    /// anyone else), checked under the DM's lock.
    pub async fn voice_join(
        &self,
        user_id: Id,
        channel_id: Id,
        community_id: Option<Id>,
        muted: bool,
        deafened: bool,
    ) -> Result<VoiceJoin> {
        let now = now_ms();
        let select = format!(
            "SELECT {COLUMNS} FROM voice_states WHERE user_id = $1{}",
            self.row_lock()
        );
        let update = format!(
            "UPDATE voice_states SET channel_id = $2, community_id = $3, muted = $4, deafened = $5,
                joined_at = $6, version = version + $7
             WHERE user_id = $1 RETURNING {COLUMNS}"
        );
        let lock_call = format!("SELECT id FROM channels WHERE id = $1{}", self.row_lock());
        let (before, after, call_started): (Row, Row, bool) = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // A DM call's joins one at a time, the channel locked before
            // the user's row as a channel deletion locks them.
            let call_started = if community_id.is_none() {
                sqlx::query(&lock_call).bind(channel_id.0).fetch_optional(&mut *tx).await?;
                // Still a participant: a leave on another node may have
                // committed since the caller checked.
                let participant: Option<(i64,)> = sqlx::query_as(
                    "SELECT CAST(1 AS BIGINT) FROM channel_recipients
                     WHERE channel_id = $1 AND user_id = $2",
                )
                .bind(channel_id.0)
                .bind(user_id.0)
                .fetch_optional(&mut *tx)
                .await?;
                if participant.is_none() {
                    return Err(StoreError::NotFound);
                }
                let (others,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM voice_states WHERE channel_id = $1 AND user_id <> $2",
                )
                .bind(channel_id.0)
                .bind(user_id.0)
                .fetch_one(&mut *tx)
                .await?;
                others == 0
            } else {
                false
            };
            // A row to lock: users who never joined voice have none.
            sqlx::query(
                "INSERT INTO voice_states (user_id, channel_id, community_id, joined_at, version)
                 VALUES ($1, NULL, NULL, $2, 0) ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(user_id.0)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let before: Row = sqlx::query_as(&select)
                .bind(user_id.0)
                .fetch_one(&mut *tx)
                .await?;
            let staying = before.1 == Some(channel_id.0);
            let moving = before.1.is_some() && !staying;
            let after: Row = sqlx::query_as(&update)
                .bind(user_id.0)
                .bind(channel_id.0)
                .bind(community_id.map(|c| c.0))
                .bind(muted)
                .bind(deafened)
                .bind(if staying { before.5 } else { now })
                .bind(if moving { 2_i64 } else { 1 })
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            let staying_in_call = call_started && before.1 == Some(channel_id.0);
            (before, after, call_started && !staying_in_call)
        });
        let left = state(before).filter(|b| b.channel_id != channel_id);
        let state = state(after).ok_or(crate::StoreError::NotFound)?;
        let left = left.map(|mut b| {
            b.version = state.version - 1;
            b
        });
        Ok(VoiceJoin {
            state,
            left,
            call_started,
        })
    }

    /// Changes mute and deafen; `None` if the user is in no channel.
    pub async fn voice_update(
        &self,
        user_id: Id,
        muted: Option<bool>,
        deafened: Option<bool>,
    ) -> Result<Option<VoiceState>> {
        let sql = format!(
            "UPDATE voice_states SET muted = COALESCE($2, muted), deafened = COALESCE($3, deafened),
                version = version + 1
             WHERE user_id = $1 AND channel_id IS NOT NULL RETURNING {COLUMNS}"
        );
        let row: Option<Row> = with_writer!(self, pool => sqlx::query_as(&sql)
            .bind(user_id.0)
            .bind(muted)
            .bind(deafened)
            .fetch_optional(pool)
            .await?);
        Ok(row.and_then(state))
    }

    /// Takes a user out of voice; returns the state they left (with the
    /// leaving version), `None` if they were in no channel.
    pub async fn voice_leave(&self, user_id: Id) -> Result<Option<VoiceState>> {
        self.voice_leave_if(user_id, |_| true).await
    }

    /// [`Store::voice_leave`] only if the user's current state matches
    /// `leaves`, decided on the row this transaction holds (locked on
    /// PostgreSQL), so a concurrent move is not undone.
    pub async fn voice_leave_if(
        &self,
        user_id: Id,
        leaves: impl Fn(&VoiceState) -> bool,
    ) -> Result<Option<VoiceState>> {
        let select = format!(
            "SELECT {COLUMNS} FROM voice_states WHERE user_id = $1{}",
            self.row_lock()
        );
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let current: Option<Row> = sqlx::query_as(&select)
                .bind(user_id.0)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(mut left) = current.and_then(state).filter(|s| leaves(s)) else {
                return Ok(None);
            };
            let (version,): (i64,) = sqlx::query_as(
                "UPDATE voice_states SET channel_id = NULL, version = version + 1
                 WHERE user_id = $1 RETURNING version",
            )
            .bind(user_id.0)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            left.version = version;
            Ok(Some(left))
        })
    }
}
