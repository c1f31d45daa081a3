//! Notifications: create, list (paginated, optionally unread only), and
//! mark read.

use chinwag_protocol::Id;
use chinwag_protocol::model::{Notification, NotificationKind};

use crate::error::{Result, StoreError};
use crate::id::IdGenerator;
use crate::store::{Store, check_limit, placeholders, with_pool, with_writer};

/// The longest excerpt kept, in characters.
pub const MAX_EXCERPT_CHARS: usize = 200;

/// A notification's quote of a message's text: its first
/// [`MAX_EXCERPT_CHARS`] characters.
pub(crate) fn excerpt(content: &str) -> String {
    content.chars().take(MAX_EXCERPT_CHARS).collect()
}

const NOTIFICATION_COLUMNS: &str =
    "id, user_id, kind, actor_id, channel_id, community_id, message_id, excerpt, read, created_at";

#[derive(Debug, sqlx::FromRow)]
struct NotificationRow {
    id: i64,
    user_id: i64,
    kind: String,
    actor_id: i64,
    channel_id: i64,
    community_id: Option<i64>,
    message_id: i64,
    excerpt: String,
    read: bool,
    created_at: i64,
}

fn kind_str(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Mention => "mention",
        NotificationKind::Reply => "reply",
        NotificationKind::Dm => "dm",
    }
}

impl From<NotificationRow> for Notification {
    fn from(r: NotificationRow) -> Self {
        Notification {
            id: Id(r.id),
            user_id: Id(r.user_id),
            kind: match r.kind.as_str() {
                "reply" => NotificationKind::Reply,
                "dm" => NotificationKind::Dm,
                _ => NotificationKind::Mention,
            },
            actor_id: Id(r.actor_id),
            channel_id: Id(r.channel_id),
            community_id: r.community_id.map(Id),
            message_id: Id(r.message_id),
            excerpt: r.excerpt,
            read: r.read,
            created_at: r.created_at,
        }
    }
}

/// A notification to create.
#[derive(Debug, Clone)]
pub struct NewNotification {
    /// Recipient.
    pub user_id: Id,
    /// Why.
    pub kind: NotificationKind,
    /// Who caused it.
    pub actor_id: Id,
    /// The message's channel.
    pub channel_id: Id,
    /// The message's community (`None` in DMs).
    pub community_id: Option<Id>,
    /// The message.
    pub message_id: Id,
    /// Excerpt; cut to [`MAX_EXCERPT_CHARS`].
    pub excerpt: String,
}

impl Store {
    /// Creates an unread notification.
    pub async fn create_notification(&self, new: NewNotification) -> Result<Notification> {
        let id = self.next_id();
        let excerpt = excerpt(&new.excerpt);
        let sql = format!(
            "INSERT INTO notifications ({NOTIFICATION_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, $9) RETURNING {NOTIFICATION_COLUMNS}"
        );
        let row: NotificationRow = with_writer!(self, pool => sqlx::query_as(&sql)
            .bind(id.0)
            .bind(new.user_id.0)
            .bind(kind_str(new.kind))
            .bind(new.actor_id.0)
            .bind(new.channel_id.0)
            .bind(new.community_id.map(|c| c.0))
            .bind(new.message_id.0)
            .bind(&excerpt)
            .bind(IdGenerator::timestamp_of(id))
            .fetch_one(pool)
            .await?);
        Ok(row.into())
    }

    /// A page of a user's notifications, newest first, older than `before`
    /// when given; `unread_only` skips read ones.
    pub async fn notifications(
        &self,
        user_id: Id,
        before: Option<Id>,
        limit: u32,
        unread_only: bool,
    ) -> Result<Vec<Notification>> {
        let limit = check_limit(limit)?;
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications
             WHERE user_id = $1 AND id < $2 AND ($3 = FALSE OR read = FALSE)
             ORDER BY id DESC LIMIT $4"
        );
        let rows: Vec<NotificationRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(user_id.0)
            .bind(before.map_or(i64::MAX, |b| b.0))
            .bind(unread_only)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(Notification::from).collect())
    }

    /// Marks the given notifications read, ignoring ids that are not the
    /// user's or already read; returns the ids that changed, ascending.
    pub async fn mark_notifications_read(&self, user_id: Id, ids: &[Id]) -> Result<Vec<Id>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.len() > 1000 {
            return Err(StoreError::invalid("at most 1000 ids at once"));
        }
        let sql = format!(
            "UPDATE notifications SET read = TRUE
             WHERE user_id = $1 AND read = FALSE AND id IN ({}) RETURNING id",
            placeholders(2, ids.len())
        );
        let rows: Vec<(i64,)> = with_writer!(self, pool => {
            let mut q = sqlx::query_as(&sql).bind(user_id.0);
            for id in ids {
                q = q.bind(id.0);
            }
            q.fetch_all(pool).await?
        });
        let mut changed: Vec<Id> = rows.into_iter().map(|(id,)| Id(id)).collect();
        changed.sort();
        Ok(changed)
    }

    /// How many unread notifications a user has.
    pub async fn unread_notification_count(&self, user_id: Id) -> Result<i64> {
        let (n,): (i64,) = with_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read = FALSE",
        )
        .bind(user_id.0)
        .fetch_one(pool)
        .await?);
        Ok(n)
    }
}
