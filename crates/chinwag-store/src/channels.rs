//! Community channels: create, read, update, delete, list, reorder, and
//! the member lists of private channels.

use std::collections::{HashMap, HashSet};

use chinwag_protocol::Id;
use chinwag_protocol::model::{Channel, ChannelKind, VoiceState};

use crate::communities::BUMP_PERMISSION_VERSION;
use crate::error::{Result, StoreError};
use crate::id::now_ms;
use crate::store::{
    BeginWrite as _, Store, placeholders, room_for_one_more, with_pool, with_writer,
};
use crate::voice;

/// A deleted channel, and the voice states its deletion ended.
#[derive(Debug, Clone)]
pub struct DeletedChannel {
    /// The channel as it was.
    pub channel: Channel,
    /// Who was in it (a voice channel): their last states, each at the
    /// version of leaving.
    pub voice_left: Vec<VoiceState>,
}

pub(crate) const CHANNEL_COLUMNS: &str =
    "c.id, c.community_id, c.kind, c.name, c.topic, c.position, c.private, c.created_at, c.version";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ChannelRow {
    pub id: i64,
    pub community_id: Option<i64>,
    pub kind: String,
    pub name: String,
    pub topic: Option<String>,
    pub position: i64,
    pub private: bool,
    pub created_at: i64,
    pub version: i64,
}

pub(crate) fn kind_str(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Text => "text",
        ChannelKind::Voice => "voice",
        ChannelKind::Dm => "dm",
        ChannelKind::GroupDm => "group_dm",
    }
}

fn parse_kind(s: &str) -> ChannelKind {
    match s {
        "voice" => ChannelKind::Voice,
        "dm" => ChannelKind::Dm,
        "group_dm" => ChannelKind::GroupDm,
        _ => ChannelKind::Text,
    }
}

impl ChannelRow {
    pub(crate) fn into_channel(self, recipient_ids: Vec<Id>) -> Channel {
        Channel {
            id: Id(self.id),
            community_id: self.community_id.map(Id),
            kind: parse_kind(&self.kind),
            name: self.name,
            topic: self.topic,
            position: i32::try_from(self.position).unwrap_or(i32::MAX),
            private: self.private,
            recipient_ids,
            created_at: self.created_at,
            version: self.version,
        }
    }
}

/// A community channel to create.
#[derive(Debug, Clone)]
pub struct NewChannel {
    /// Community id.
    pub community_id: Id,
    /// [`ChannelKind::Text`] or [`ChannelKind::Voice`].
    pub kind: ChannelKind,
    /// Name.
    pub name: String,
    /// Topic line.
    pub topic: Option<String>,
    /// Visible only to its member list.
    pub private: bool,
}

/// A channel change; `None` fields are left as they are.
#[derive(Debug, Clone, Default)]
pub struct ChannelUpdate {
    /// New name.
    pub name: Option<String>,
    /// New topic (`Some(None)` clears it).
    pub topic: Option<Option<String>>,
    /// New privacy.
    pub private: Option<bool>,
}

/// The most channels one community holds.
pub const MAX_CHANNELS_PER_COMMUNITY: usize = 500;

impl Store {
    /// Creates a text or voice channel at the end of a community's list;
    /// [`StoreError::Limit`] when the community holds
    /// [`MAX_CHANNELS_PER_COMMUNITY`].
    pub async fn create_channel(&self, new: NewChannel) -> Result<Channel> {
        if !matches!(new.kind, ChannelKind::Text | ChannelKind::Voice) {
            return Err(StoreError::invalid("community channels are text or voice"));
        }
        if new.name.trim().is_empty() {
            return Err(StoreError::invalid("channel name must not be empty"));
        }
        let id = self.next_id();
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            room_for_one_more!(
                self, tx, "SELECT id FROM communities WHERE id = $1", new.community_id.0,
                "SELECT COUNT(*) FROM channels WHERE community_id = $1";
                MAX_CHANNELS_PER_COMMUNITY,
                format!("at most {MAX_CHANNELS_PER_COMMUNITY} channels in a community: remove one first")
            );
            sqlx::query(
                "INSERT INTO channels (id, community_id, kind, name, topic, position, private, created_at)
                 VALUES ($1, $2, $3, $4, $5,
                   (SELECT COALESCE(MAX(position) + 1, 0) FROM channels WHERE community_id = $2),
                   $6, $7)",
            )
            .bind(id.0)
            .bind(new.community_id.0)
            .bind(kind_str(new.kind))
            .bind(&new.name)
            .bind(&new.topic)
            .bind(new.private)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        self.channel(id).await
    }

    /// A channel (community channel or DM) by id.
    pub async fn channel(&self, id: Id) -> Result<Channel> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels c WHERE c.id = $1");
        let row: Option<ChannelRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id.0).fetch_optional(pool).await?);
        let row = row.ok_or(StoreError::NotFound)?;
        self.attach_recipients(vec![row])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    /// The community of a community channel. [`StoreError::NotFound`] for
    /// an unknown channel, [`StoreError::Invalid`] for a DM.
    pub async fn channel_community(&self, channel_id: Id) -> Result<Id> {
        let row: Option<(Option<i64>,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT community_id FROM channels WHERE id = $1",
        )
        .bind(channel_id.0)
        .fetch_optional(pool)
        .await?);
        match row {
            None => Err(StoreError::NotFound),
            Some((None,)) => Err(StoreError::invalid("not a community channel")),
            Some((Some(c),)) => Ok(Id(c)),
        }
    }

    /// Changes a channel and bumps its version. Making a channel private or
    /// public also bumps the community's permission version.
    pub async fn update_channel(&self, id: Id, update: ChannelUpdate) -> Result<Channel> {
        if update.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(StoreError::invalid("channel name must not be empty"));
        }
        let current = self.channel(id).await?;
        let Some(community_id) = current.community_id else {
            return Err(StoreError::invalid(
                "DM channels cannot be updated this way",
            ));
        };
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "UPDATE channels SET
                    name = COALESCE($2, name),
                    topic = CASE WHEN $3 THEN $4 ELSE topic END,
                    private = COALESCE($5, private),
                    version = version + 1
                 WHERE id = $1",
            )
            .bind(id.0)
            .bind(&update.name)
            .bind(update.topic.is_some())
            .bind(update.topic.clone().flatten())
            .bind(update.private)
            .execute(&mut *tx)
            .await?;
            if update.private.is_some_and(|p| p != current.private) {
                sqlx::query(BUMP_PERMISSION_VERSION).bind(community_id.0).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        self.channel(id).await
    }

    /// Deletes a channel with its messages; returns it, with the voice
    /// states the deletion ended (each user leaves at a new version).
    pub async fn delete_channel(&self, id: Id) -> Result<DeletedChannel> {
        let channel = self.channel(id).await?;
        let how = voice::VoiceDeletion {
            lock: format!("SELECT id FROM channels WHERE id = $1{}", self.row_lock()),
            also_lock: None,
            channels: "= $1",
            delete: "DELETE FROM channels WHERE id = $1",
        };
        Ok(DeletedChannel {
            channel,
            voice_left: self.delete_ending_voice(id, how).await?,
        })
    }

    /// A community's channels in list order.
    pub async fn community_channels(&self, community_id: Id) -> Result<Vec<Channel>> {
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels c WHERE c.community_id = $1 ORDER BY c.position, c.id"
        );
        let rows: Vec<ChannelRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(community_id.0)
            .fetch_all(pool)
            .await?);
        self.attach_recipients(rows).await
    }

    /// Sets channel positions to the order of `ordered_ids` (0, 1, …), all
    /// or nothing. The ids must be exactly the community's channels, each
    /// once; otherwise [`StoreError::Invalid`] and nothing changes. Channels
    /// whose position changes get their version bumped. Returns the
    /// channels in their new order.
    pub async fn reorder_channels(
        &self,
        community_id: Id,
        ordered_ids: &[Id],
    ) -> Result<Vec<Channel>> {
        let distinct: HashSet<Id> = ordered_ids.iter().copied().collect();
        if distinct.len() != ordered_ids.len() {
            return Err(StoreError::invalid("duplicate channel id in reorder"));
        }
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let current: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT id, position FROM channels WHERE community_id = $1",
            )
            .bind(community_id.0)
            .fetch_all(&mut *tx)
            .await?;
            let current: HashMap<i64, i64> = current.into_iter().collect();
            if current.len() != ordered_ids.len()
                || ordered_ids.iter().any(|id| !current.contains_key(&id.0))
            {
                return Err(StoreError::invalid(
                    "reorder must list every channel of the community exactly once",
                ));
            }
            for (position, id) in (0_i64..).zip(ordered_ids) {
                if current.get(&id.0) != Some(&position) {
                    sqlx::query(
                        "UPDATE channels SET position = $2, version = version + 1 WHERE id = $1",
                    )
                    .bind(id.0)
                    .bind(position)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
        });
        self.community_channels(community_id).await
    }

    /// Gives a community member access to a private channel; returns
    /// whether it was new. [`StoreError::Invalid`] if the user is not a
    /// member of the channel's community.
    pub async fn add_private_channel_member(&self, channel_id: Id, user_id: Id) -> Result<bool> {
        let community_id = self.channel_community(channel_id).await?;
        let changed = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let member: Option<(i64,)> =
                sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM members WHERE community_id = $1 AND user_id = $2")
                    .bind(community_id.0)
                    .bind(user_id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            if member.is_none() {
                return Err(StoreError::invalid("user is not a member of the community"));
            }
            let n = sqlx::query(
                "INSERT INTO private_channel_members (channel_id, user_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
            )
            .bind(channel_id.0)
            .bind(user_id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                sqlx::query(BUMP_PERMISSION_VERSION).bind(community_id.0).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            n > 0
        });
        Ok(changed)
    }

    /// Takes a user's access to a private channel; returns whether they had it.
    pub async fn remove_private_channel_member(&self, channel_id: Id, user_id: Id) -> Result<bool> {
        let community_id = self.channel_community(channel_id).await?;
        let changed = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "DELETE FROM private_channel_members WHERE channel_id = $1 AND user_id = $2",
            )
            .bind(channel_id.0)
            .bind(user_id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                sqlx::query(BUMP_PERMISSION_VERSION).bind(community_id.0).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            n > 0
        });
        Ok(changed)
    }

    /// The users with access to a private channel, by id.
    pub async fn private_channel_members(&self, channel_id: Id) -> Result<Vec<Id>> {
        let rows: Vec<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT user_id FROM private_channel_members WHERE channel_id = $1 ORDER BY user_id",
        )
        .bind(channel_id.0)
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().map(|(id,)| Id(id)).collect())
    }

    /// Whether a user is on a private channel's member list.
    pub async fn is_private_channel_member(&self, channel_id: Id, user_id: Id) -> Result<bool> {
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(1 AS BIGINT) FROM private_channel_members WHERE channel_id = $1 AND user_id = $2",
        )
        .bind(channel_id.0)
        .bind(user_id.0)
        .fetch_optional(pool)
        .await?);
        Ok(row.is_some())
    }

    /// Turns rows into channels, loading DM recipients where needed.
    pub(crate) async fn attach_recipients(&self, rows: Vec<ChannelRow>) -> Result<Vec<Channel>> {
        let dm_ids: Vec<i64> = rows
            .iter()
            .filter(|r| r.community_id.is_none())
            .map(|r| r.id)
            .collect();
        let mut recipients: HashMap<i64, Vec<Id>> = HashMap::new();
        if !dm_ids.is_empty() {
            let sql = format!(
                "SELECT channel_id, user_id FROM channel_recipients
                 WHERE channel_id IN ({}) ORDER BY user_id",
                placeholders(1, dm_ids.len())
            );
            let pairs: Vec<(i64, i64)> = with_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql);
                for id in &dm_ids {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            for (channel, user) in pairs {
                recipients.entry(channel).or_default().push(Id(user));
            }
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let ids = recipients.remove(&r.id).unwrap_or_default();
                r.into_channel(ids)
            })
            .collect())
    }
}
