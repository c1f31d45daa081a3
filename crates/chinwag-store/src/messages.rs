//! Messages: create (including thread replies), read, edit, delete, and
//! cursor-paginated history of channels and threads.
//!
//! # History order
//! [`Cursor::Latest`], [`Cursor::Before`] and [`Cursor::Around`] return
//! messages **newest first**; [`Cursor::After`] returns them **oldest
//! first** (so a client catching up reads forward). Channel history holds
//! top-level messages only; thread replies are read with
//! [`Store::thread_replies`]. Deleted messages never appear.

use std::collections::HashMap;

use chinwag_protocol::model::{Message, ReactionSummary, User};
use chinwag_protocol::{Id, Timestamp};

use crate::access::AccessVersions;
use crate::accounts::{USER_COLUMNS, UserRow};
use crate::error::{Result, StoreError};
use crate::id::IdGenerator;
use crate::store::{BeginWrite as _, Store, check_limit, placeholders, with_pool, with_writer};

/// The most mentions a message records.
pub const MAX_MENTIONS: usize = 100;

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MessageRow {
    #[sqlx(flatten)]
    author: UserRow,
    m_id: i64,
    channel_id: i64,
    community_id: Option<i64>,
    content: String,
    thread_parent_id: Option<i64>,
    reply_count: i64,
    pinned: bool,
    m_created_at: i64,
    edited_at: Option<i64>,
    m_version: i64,
}

/// `SELECT … FROM messages m JOIN users u` with the columns [`MessageRow`]
/// expects; append a `WHERE` clause.
pub(crate) fn message_select() -> String {
    format!(
        "SELECT {USER_COLUMNS}, m.id AS m_id, m.channel_id, m.community_id, m.content,
                m.thread_parent_id, m.reply_count, m.pinned, m.created_at AS m_created_at,
                m.edited_at, m.version AS m_version
         FROM messages m JOIN users u ON u.id = m.author_id"
    )
}

/// Where to start a page of history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cursor {
    /// The newest messages (newest first).
    #[default]
    Latest,
    /// Messages with smaller ids than this one (newest first).
    Before(Id),
    /// Messages with larger ids than this one (oldest first).
    After(Id),
    /// This message (if it still exists), `limit - limit / 2 - 1` older and
    /// `limit / 2` newer ones, newest first.
    Around(Id),
}

/// A message to create.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Channel (or DM) id.
    pub channel_id: Id,
    /// Author.
    pub author_id: Id,
    /// Text.
    pub content: String,
    /// Mentioned users (duplicates ignored, at most [`MAX_MENTIONS`]).
    pub mention_ids: Vec<Id>,
    /// Makes this a reply in the thread of that top-level message (of the
    /// same channel).
    pub thread_parent_id: Option<Id>,
    /// The sender's nonce, echoed in the returned message (not stored).
    pub nonce: Option<String>,
}

/// A thread parent's counters after a reply was added or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadParentUpdate {
    /// The parent message.
    pub message_id: Id,
    /// Its new reply count.
    pub reply_count: i64,
    /// Its new version.
    pub version: i64,
}

/// What [`Store::create_message`] made.
#[derive(Debug, Clone)]
pub struct CreatedMessage {
    /// The message.
    pub message: Message,
    /// For a thread reply, the parent's new counters.
    pub parent: Option<ThreadParentUpdate>,
    /// For a thread reply, the parent's author.
    pub parent_author_id: Option<Id>,
}

/// Inserts a message into an existing channel, taking the channel's
/// community; no row when the channel is unknown. Binds `$1` id, `$2`
/// channel, `$3` author, `$4` content, `$5` thread parent, `$6` time.
const INSERT_MESSAGE: &str = "
INSERT INTO messages (id, channel_id, community_id, author_id, content, thread_parent_id,
                      created_at)
SELECT $1, c.id, c.community_id, $3, $4, $5, $6 FROM channels c WHERE c.id = $2
RETURNING community_id, reply_count, pinned, created_at, edited_at, version";

/// [`INSERT_MESSAGE`] in a community channel, only while the channel, the
/// community's permissions and the author's profile are still at the
/// versions `$7`, `$8` and `$9` (see [`AccessVersions`]).
const INSERT_MESSAGE_IF_CURRENT: &str = "
INSERT INTO messages (id, channel_id, community_id, author_id, content, thread_parent_id,
                      created_at)
SELECT $1, c.id, c.community_id, $3, $4, $5, $6
FROM channels c
JOIN communities co ON co.id = c.community_id
JOIN users u ON u.id = $3
WHERE c.id = $2 AND c.version = $7 AND co.permission_version = $8 AND u.version = $9
RETURNING community_id, reply_count, pinned, created_at, edited_at, version";

/// What [`INSERT_MESSAGE`] returns: the columns the database filled in.
#[derive(Debug, sqlx::FromRow)]
struct InsertedRow {
    community_id: Option<i64>,
    reply_count: i64,
    pinned: bool,
    created_at: i64,
    edited_at: Option<i64>,
    version: i64,
}

/// What [`Store::delete_message`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedMessage {
    /// The message id.
    pub id: Id,
    /// Its channel.
    pub channel_id: Id,
    /// Its community (`None` in DMs).
    pub community_id: Option<Id>,
    /// The thread it was a reply in.
    pub thread_parent_id: Option<Id>,
    /// The message's version after deletion (the tombstone's).
    pub version: i64,
    /// For a thread reply, the parent's new counters.
    pub parent: Option<ThreadParentUpdate>,
}

fn dedup_mentions(ids: &[Id]) -> Result<Vec<Id>> {
    let mut out: Vec<Id> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(id) {
            out.push(*id);
        }
    }
    if out.len() > MAX_MENTIONS {
        return Err(StoreError::invalid(format!(
            "at most {MAX_MENTIONS} mentions per message"
        )));
    }
    Ok(out)
}

/// Which messages a history page reads.
enum Scope {
    Channel(Id),
    Thread(Id),
}

impl Store {
    /// Creates a message. A thread reply increments the parent's
    /// `reply_count` and `version` in the same transaction.
    pub async fn create_message(&self, new: NewMessage) -> Result<CreatedMessage> {
        self.insert_message(new, None, None)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// [`Store::create_message`] by an author the caller has already read
    /// (for example with [`Store::channel_access`]): the message is built
    /// from what was written instead of being read back.
    pub async fn create_message_by(&self, new: NewMessage, author: User) -> Result<CreatedMessage> {
        self.insert_message(new, Some(author), None)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// [`Store::create_message_by`] in a community channel, written only
    /// if the rows an earlier access check read are still at `versions`,
    /// checked in the same statement as the write. `None` (nothing
    /// written) when any of them changed or the channel is gone: the
    /// caller checks access afresh. This lets a caller reuse a check
    /// across messages with one statement per message, on any node.
    pub async fn create_message_if_current(
        &self,
        new: NewMessage,
        author: User,
        versions: AccessVersions,
    ) -> Result<Option<CreatedMessage>> {
        self.insert_message(new, Some(author), Some(versions)).await
    }

    /// The write behind [`Store::create_message`]. A plain message is one
    /// statement (the channel's community is taken in the `INSERT`); a
    /// thread reply or a message with mentions writes in one transaction.
    /// On SQLite the id is taken and written under the channel's
    /// [`Store::message_turn`], so a channel's ids follow commit order.
    /// `None` when the message row was not written: the channel is gone,
    /// or `guard`'s versions are out of date.
    async fn insert_message(
        &self,
        new: NewMessage,
        author: Option<User>,
        guard: Option<AccessVersions>,
    ) -> Result<Option<CreatedMessage>> {
        let mut mentions = dedup_mentions(&new.mention_ids)?;
        mentions.sort_by_key(|m| m.0);
        let order = self.message_turn(new.channel_id).await;
        let ids = &self.ids;
        let id = ids.next_id();
        // A macro, not a value: each backend's expansion needs its own query type.
        macro_rules! insert {
            () => {{
                let sql = if guard.is_some() {
                    INSERT_MESSAGE_IF_CURRENT
                } else {
                    INSERT_MESSAGE
                };
                let query = sqlx::query_as::<_, InsertedRow>(sql)
                    .bind(id.0)
                    .bind(new.channel_id.0)
                    .bind(new.author_id.0)
                    .bind(&new.content)
                    .bind(new.thread_parent_id.map(|p| p.0))
                    .bind(IdGenerator::timestamp_of(id));
                match guard {
                    Some(v) => query.bind(v.channel).bind(v.permissions).bind(v.author),
                    None => query,
                }
            }};
        }
        let (inserted, parent) = if new.thread_parent_id.is_none() && mentions.is_empty() {
            let row = with_writer!(self, pool => insert!().fetch_optional(pool).await?);
            let Some(row) = row else { return Ok(None) };
            (row, None)
        } else {
            with_writer!(self, pool => {
                let mut tx = pool.begin_write().await?;
                let mut parent = None;
                if let Some(parent_id) = new.thread_parent_id {
                    let row: Option<(i64, i64, i64)> = sqlx::query_as(
                        "UPDATE messages SET reply_count = reply_count + 1, version = version + 1
                         WHERE id = $1 AND channel_id = $2 AND thread_parent_id IS NULL AND deleted = FALSE
                         RETURNING reply_count, version, author_id",
                    )
                    .bind(parent_id.0)
                    .bind(new.channel_id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((reply_count, version, parent_author)) = row else {
                        let nested: Option<(i64,)> = sqlx::query_as(
                            "SELECT CAST(1 AS BIGINT) FROM messages WHERE id = $1 AND thread_parent_id IS NOT NULL",
                        )
                        .bind(parent_id.0)
                        .fetch_optional(&mut *tx)
                        .await?;
                        return Err(if nested.is_some() {
                            StoreError::invalid("threads do not nest")
                        } else {
                            StoreError::NotFound
                        });
                    };
                    parent = Some((
                        ThreadParentUpdate { message_id: parent_id, reply_count, version },
                        Id(parent_author),
                    ));
                }
                let Some(row) = insert!().fetch_optional(&mut *tx).await? else {
                    return Ok(None);
                };
                if !mentions.is_empty() {
                    let values = (0..mentions.len())
                        .map(|i| format!("($1, ${})", i + 2))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!("INSERT INTO message_mentions (message_id, user_id) VALUES {values}");
                    let mut q = sqlx::query(&sql).bind(id.0);
                    for user in &mentions {
                        q = q.bind(user.0);
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                (row, parent)
            })
        };
        drop(order);
        let (parent, parent_author_id) = match parent {
            Some((update, author)) => (Some(update), Some(author)),
            None => (None, None),
        };
        let mut message = match author {
            Some(author) => Message {
                id,
                channel_id: new.channel_id,
                community_id: inserted.community_id.map(Id),
                author,
                content: new.content,
                mention_ids: mentions,
                thread_parent_id: new.thread_parent_id,
                reply_count: inserted.reply_count,
                reactions: Vec::new(),
                pinned: inserted.pinned,
                created_at: inserted.created_at,
                edited_at: inserted.edited_at,
                nonce: None,
                version: inserted.version,
            },
            None => self.message(id).await?,
        };
        message.nonce = new.nonce;
        Ok(Some(CreatedMessage {
            message,
            parent,
            parent_author_id,
        }))
    }

    /// A message by id, with author, mentions and reactions.
    /// [`StoreError::NotFound`] if unknown or deleted.
    pub async fn message(&self, id: Id) -> Result<Message> {
        let sql = format!("{} WHERE m.id = $1 AND m.deleted = FALSE", message_select());
        let row: Option<MessageRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id.0).fetch_optional(pool).await?);
        let row = row.ok_or(StoreError::NotFound)?;
        self.hydrate_messages(vec![row])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    /// Replaces a message's content and mentions, sets `edited_at` and
    /// bumps its version; the notifications it caused quote the new text.
    pub async fn edit_message(
        &self,
        id: Id,
        content: &str,
        mention_ids: &[Id],
        now: Timestamp,
    ) -> Result<Message> {
        let mentions = dedup_mentions(mention_ids)?;
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE messages SET content = $2, edited_at = $3, version = version + 1
                 WHERE id = $1 AND deleted = FALSE",
            )
            .bind(id.0)
            .bind(content)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query("DELETE FROM message_mentions WHERE message_id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            for user in &mentions {
                sqlx::query("INSERT INTO message_mentions (message_id, user_id) VALUES ($1, $2)")
                    .bind(id.0)
                    .bind(user.0)
                    .execute(&mut *tx)
                    .await?;
            }
            // Notifications quote the message as it is now.
            sqlx::query("UPDATE notifications SET excerpt = $2 WHERE message_id = $1")
                .bind(id.0)
                .bind(crate::notifications::excerpt(content))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        self.message(id).await
    }

    /// Deletes a message: it leaves history for good, its content,
    /// mentions and reactions are dropped, the notifications it caused
    /// lose their excerpt, and its version is bumped (the tombstone keeps
    /// the id). A thread reply's parent, unless deleted itself, loses one
    /// reply and gets its version bumped.
    pub async fn delete_message(&self, id: Id) -> Result<DeletedMessage> {
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<(i64, Option<i64>, Option<i64>, i64)> = sqlx::query_as(
                "UPDATE messages SET deleted = TRUE, content = '', pinned = FALSE, pinned_at = NULL,
                                     version = version + 1
                 WHERE id = $1 AND deleted = FALSE
                 RETURNING channel_id, community_id, thread_parent_id, version",
            )
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((channel_id, community_id, thread_parent_id, version)) = row else {
                return Err(StoreError::NotFound);
            };
            for sql in [
                "DELETE FROM reactions WHERE message_id = $1",
                "DELETE FROM message_mentions WHERE message_id = $1",
                "UPDATE notifications SET excerpt = '' WHERE message_id = $1",
            ] {
                sqlx::query(sql).bind(id.0).execute(&mut *tx).await?;
            }
            let mut parent = None;
            if let Some(parent_id) = thread_parent_id {
                let row: Option<(i64, i64)> = sqlx::query_as(
                    "UPDATE messages SET reply_count = reply_count - 1, version = version + 1
                     WHERE id = $1 AND reply_count > 0 AND deleted = FALSE
                     RETURNING reply_count, version",
                )
                .bind(parent_id)
                .fetch_optional(&mut *tx)
                .await?;
                parent = row.map(|(reply_count, version)| ThreadParentUpdate {
                    message_id: Id(parent_id),
                    reply_count,
                    version,
                });
            }
            tx.commit().await?;
            Ok(DeletedMessage {
                id,
                channel_id: Id(channel_id),
                community_id: community_id.map(Id),
                thread_parent_id: thread_parent_id.map(Id),
                version,
                parent,
            })
        })
    }

    /// A page of a channel's top-level messages; see the module docs for
    /// the order. `limit` must be within 1..=100.
    pub async fn history(
        &self,
        channel_id: Id,
        cursor: Cursor,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let limit = check_limit(limit)?;
        let exists: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(1 AS BIGINT) FROM channels WHERE id = $1",
        )
        .bind(channel_id.0)
        .fetch_optional(pool)
        .await?);
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        self.page(Scope::Channel(channel_id), cursor, limit).await
    }

    /// A page of the replies in a message's thread, in the same orders as
    /// [`Store::history`].
    pub async fn thread_replies(
        &self,
        parent_id: Id,
        cursor: Cursor,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let limit = check_limit(limit)?;
        let exists: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(1 AS BIGINT) FROM messages WHERE id = $1 AND thread_parent_id IS NULL",
        )
        .bind(parent_id.0)
        .fetch_optional(pool)
        .await?);
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        self.page(Scope::Thread(parent_id), cursor, limit).await
    }

    async fn page(&self, scope: Scope, cursor: Cursor, limit: i64) -> Result<Vec<Message>> {
        let (scope_sql, scope_id) = match scope {
            Scope::Channel(id) => ("m.channel_id = $1 AND m.thread_parent_id IS NULL", id),
            Scope::Thread(id) => ("m.thread_parent_id = $1", id),
        };
        let select = message_select();
        let older = format!(
            "{select} WHERE {scope_sql} AND m.deleted = FALSE AND m.id < $2 ORDER BY m.id DESC LIMIT $3"
        );
        let newer = format!(
            "{select} WHERE {scope_sql} AND m.deleted = FALSE AND m.id > $2 ORDER BY m.id ASC LIMIT $3"
        );
        let query = |sql: String, anchor: i64, limit: i64| async move {
            let rows: Vec<MessageRow> = with_pool!(self, pool => sqlx::query_as(&sql)
                .bind(scope_id.0)
                .bind(anchor)
                .bind(limit)
                .fetch_all(pool)
                .await?);
            Ok::<_, StoreError>(rows)
        };
        let rows = match cursor {
            Cursor::Latest => query(older, i64::MAX, limit).await?,
            Cursor::Before(id) => query(older, id.0, limit).await?,
            Cursor::After(id) => query(newer, id.0, limit).await?,
            Cursor::Around(id) => {
                let newer_count = limit / 2;
                // Older-or-equal: everything below id + 1, so the anchor is included.
                let mut older_rows =
                    query(older, id.0.saturating_add(1), limit - newer_count).await?;
                let mut rows = if newer_count > 0 {
                    query(newer, id.0, newer_count).await?
                } else {
                    Vec::new()
                };
                rows.reverse();
                rows.append(&mut older_rows);
                rows
            }
        };
        self.hydrate_messages(rows).await
    }

    /// Turns rows into messages, loading mentions and reactions.
    pub(crate) async fn hydrate_messages(&self, rows: Vec<MessageRow>) -> Result<Vec<Message>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids = placeholders(1, rows.len());
        let mention_sql = format!(
            "SELECT message_id, user_id FROM message_mentions WHERE message_id IN ({ids})
             ORDER BY message_id, user_id"
        );
        let reaction_sql = format!(
            "SELECT message_id, emoji, user_id FROM reactions WHERE message_id IN ({ids})
             ORDER BY message_id, seq"
        );
        let (mentions, reactions) = with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, (i64, i64)>(&mention_sql);
            for r in &rows {
                q = q.bind(r.m_id);
            }
            let mentions = q.fetch_all(pool).await?;
            let mut q = sqlx::query_as::<_, (i64, String, i64)>(&reaction_sql);
            for r in &rows {
                q = q.bind(r.m_id);
            }
            (mentions, q.fetch_all(pool).await?)
        });
        let mut mention_map: HashMap<i64, Vec<Id>> = HashMap::new();
        for (message, user) in mentions {
            mention_map.entry(message).or_default().push(Id(user));
        }
        let mut reaction_map: HashMap<i64, Vec<ReactionSummary>> = HashMap::new();
        for (message, emoji, user) in reactions {
            let list = reaction_map.entry(message).or_default();
            match list.iter_mut().find(|s| s.emoji == emoji) {
                Some(s) => {
                    s.count += 1;
                    s.user_ids.push(Id(user));
                }
                None => list.push(ReactionSummary {
                    emoji,
                    count: 1,
                    user_ids: vec![Id(user)],
                }),
            }
        }
        Ok(rows
            .into_iter()
            .map(|r| Message {
                id: Id(r.m_id),
                channel_id: Id(r.channel_id),
                community_id: r.community_id.map(Id),
                mention_ids: mention_map.remove(&r.m_id).unwrap_or_default(),
                reactions: reaction_map.remove(&r.m_id).unwrap_or_default(),
                author: r.author.into(),
                content: r.content,
                thread_parent_id: r.thread_parent_id.map(Id),
                reply_count: r.reply_count,
                pinned: r.pinned,
                created_at: r.m_created_at,
                edited_at: r.edited_at,
                nonce: None,
                version: r.m_version,
            })
            .collect())
    }
}
