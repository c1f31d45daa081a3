//! Voice presence as shared state (no media): who is in which voice
//! channel or DM call, muted and deafened, with a per-user version that
//! grows on every join, update and leave. Every node reads the same rows.

use chinwag_protocol::Id;
use chinwag_protocol::model::VoiceState;

use crate::error::Result;
use crate::id::now_ms;
use crate::store::{BeginWrite as _, Store, with_pool, with_writer};

type Row = (i64, Option<i64>, Option<i64>, bool, bool, i64, i64);

const COLUMNS: &str = "user_id, channel_id, community_id, muted, deafened, joined_at, version";

fn state(r: Row) -> Option<VoiceState> {
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

/// What a join changed.
#[derive(Debug, Clone)]
pub struct VoiceJoin {
    /// The new state.
    pub state: VoiceState,
    /// The state the user left to join (another channel), with its
    /// leaving version.
    pub left: Option<VoiceState>,
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

    /// Puts a user in a voice channel or DM call (leaving any other).
    pub async fn voice_join(
        &self,
        user_id: Id,
        channel_id: Id,
        community_id: Option<Id>,
        muted: bool,
        deafened: bool,
    ) -> Result<VoiceJoin> {
        let before = self.voice_state(user_id).await?;
        let now = now_ms();
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO voice_states (user_id, channel_id, community_id, muted, deafened, joined_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, 1)
                 ON CONFLICT (user_id) DO UPDATE SET
                    channel_id = excluded.channel_id, community_id = excluded.community_id,
                    muted = excluded.muted, deafened = excluded.deafened,
                    joined_at = CASE WHEN voice_states.channel_id = excluded.channel_id
                                THEN voice_states.joined_at ELSE excluded.joined_at END,
                    version = voice_states.version + 1",
            )
            .bind(user_id.0)
            .bind(channel_id.0)
            .bind(community_id.map(|c| c.0))
            .bind(muted)
            .bind(deafened)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        let state = self
            .voice_state(user_id)
            .await?
            .ok_or(crate::StoreError::NotFound)?;
        let left = before.filter(|b| b.channel_id != channel_id).map(|mut b| {
            b.version = state.version;
            b
        });
        Ok(VoiceJoin { state, left })
    }

    /// Changes mute and deafen; `None` if the user is in no channel.
    pub async fn voice_update(
        &self,
        user_id: Id,
        muted: Option<bool>,
        deafened: Option<bool>,
    ) -> Result<Option<VoiceState>> {
        let n = with_writer!(self, pool => sqlx::query(
            "UPDATE voice_states SET muted = COALESCE($2, muted), deafened = COALESCE($3, deafened),
                version = version + 1
             WHERE user_id = $1 AND channel_id IS NOT NULL",
        )
        .bind(user_id.0)
        .bind(muted)
        .bind(deafened)
        .execute(pool)
        .await?
        .rows_affected());
        if n == 0 {
            return Ok(None);
        }
        self.voice_state(user_id).await
    }

    /// Takes a user out of voice; returns the state they left (with the
    /// leaving version), `None` if they were in no channel.
    pub async fn voice_leave(&self, user_id: Id) -> Result<Option<VoiceState>> {
        let Some(mut current) = self.voice_state(user_id).await? else {
            return Ok(None);
        };
        let n = with_writer!(self, pool => sqlx::query(
            "UPDATE voice_states SET channel_id = NULL, version = version + 1
             WHERE user_id = $1 AND channel_id = $2",
        )
        .bind(user_id.0)
        .bind(current.channel_id.0)
        .execute(pool)
        .await?
        .rows_affected());
        if n == 0 {
            return Ok(None);
        }
        current.version += 1;
        Ok(Some(current))
    }
}
