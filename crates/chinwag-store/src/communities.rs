//! Communities: create (with the @everyone and Admin roles), read, update,
//! delete, list per user, and the permission version.

use chinwag_protocol::Id;
use chinwag_protocol::model::{Community, Role, VoiceState};

use crate::error::{Result, StoreError};
use crate::id::now_ms;
use crate::store::{BeginWrite as _, Store, room_for_one_more, with_pool, with_writer};
use crate::voice;

/// Name of the role every member implicitly holds; its id is the
/// community's id and its position is 0.
pub const EVERYONE_ROLE_NAME: &str = "@everyone";
/// Name of the role given to a community's creator.
pub const ADMIN_ROLE_NAME: &str = "Admin";
/// Position of the Admin role, above any role created later by default.
pub const ADMIN_ROLE_POSITION: i32 = 1_000_000;

/// The most communities one user is in, owned ones included.
pub const MAX_COMMUNITIES_PER_USER: usize = 200;

/// Locks a user's row for a capped create (see [`room_for_one_more`]).
pub(crate) const LOCK_USER: &str = "SELECT id FROM users WHERE id = $1";

/// Counts a user's communities: `$1` the user.
pub(crate) const USER_COMMUNITIES: &str = "SELECT COUNT(*) FROM members WHERE user_id = $1";

/// What a join or create past [`MAX_COMMUNITIES_PER_USER`] is told.
pub(crate) fn communities_full() -> String {
    format!("at most {MAX_COMMUNITIES_PER_USER} communities per user: leave one first")
}

pub(crate) const COMMUNITY_COLUMNS: &str = "c.id, c.name, c.description, c.icon_url, c.owner_id, c.created_at, c.version, c.permission_version";

/// Bumps a community's permission version; bind the community id as `$1`.
pub(crate) const BUMP_PERMISSION_VERSION: &str =
    "UPDATE communities SET permission_version = permission_version + 1 WHERE id = $1";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CommunityRow {
    id: i64,
    name: String,
    description: Option<String>,
    icon_url: Option<String>,
    owner_id: i64,
    created_at: i64,
    version: i64,
    permission_version: i64,
}

impl From<CommunityRow> for Community {
    fn from(r: CommunityRow) -> Self {
        Community {
            id: Id(r.id),
            name: r.name,
            description: r.description,
            icon_url: r.icon_url,
            owner_id: Id(r.owner_id),
            created_at: r.created_at,
            version: r.version,
            permission_version: r.permission_version,
        }
    }
}

/// A community to create.
#[derive(Debug, Clone)]
pub struct NewCommunity {
    /// The creator: becomes the owner, a member, and holds the Admin role.
    pub owner_id: Id,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Icon URL.
    pub icon_url: Option<String>,
    /// Permissions of the @everyone role.
    pub everyone_permissions: u64,
    /// Permissions of the Admin role.
    pub admin_permissions: u64,
}

/// What [`Store::create_community`] made.
#[derive(Debug, Clone)]
pub struct CreatedCommunity {
    /// The community.
    pub community: Community,
    /// The @everyone role (id = community id, position 0).
    pub everyone_role: Role,
    /// The Admin role, held by the owner.
    pub admin_role: Role,
}

/// A community change; `None` fields are left as they are.
#[derive(Debug, Clone, Default)]
pub struct CommunityUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New icon URL (`Some(None)` clears it).
    pub icon_url: Option<Option<String>>,
}

impl Store {
    /// Creates a community in one transaction: the community, its @everyone
    /// role (id = community id, position 0), an Admin role at
    /// [`ADMIN_ROLE_POSITION`], and the owner's membership holding Admin.
    /// [`StoreError::Limit`] when the owner is in
    /// [`MAX_COMMUNITIES_PER_USER`] communities already.
    pub async fn create_community(&self, new: NewCommunity) -> Result<CreatedCommunity> {
        if new.name.trim().is_empty() {
            return Err(StoreError::invalid("community name must not be empty"));
        }
        let id = self.next_id();
        let admin_id = self.next_id();
        let now = now_ms();
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            room_for_one_more!(
                self, tx, LOCK_USER, new.owner_id.0, USER_COMMUNITIES;
                MAX_COMMUNITIES_PER_USER, communities_full()
            );
            sqlx::query(
                "INSERT INTO communities (id, name, description, icon_url, owner_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.0)
            .bind(&new.name)
            .bind(&new.description)
            .bind(&new.icon_url)
            .bind(new.owner_id.0)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            for (role_id, name, perms, position) in [
                (id, EVERYONE_ROLE_NAME, new.everyone_permissions, 0),
                (admin_id, ADMIN_ROLE_NAME, new.admin_permissions, ADMIN_ROLE_POSITION),
            ] {
                sqlx::query(
                    "INSERT INTO roles (id, community_id, name, permissions, position)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(role_id.0)
                .bind(id.0)
                .bind(name)
                .bind(perms as i64)
                .bind(i64::from(position))
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("INSERT INTO members (community_id, user_id, joined_at) VALUES ($1, $2, $3)")
                .bind(id.0)
                .bind(new.owner_id.0)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO member_roles (community_id, user_id, role_id) VALUES ($1, $2, $3)")
                .bind(id.0)
                .bind(new.owner_id.0)
                .bind(admin_id.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(CreatedCommunity {
            community: self.community(id).await?,
            everyone_role: self.role(id).await?,
            admin_role: self.role(admin_id).await?,
        })
    }

    /// A community by id.
    pub async fn community(&self, id: Id) -> Result<Community> {
        let sql = format!("SELECT {COMMUNITY_COLUMNS} FROM communities c WHERE c.id = $1");
        let row: Option<CommunityRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id.0).fetch_optional(pool).await?);
        row.map(Community::from).ok_or(StoreError::NotFound)
    }

    /// Changes a community and bumps its version.
    pub async fn update_community(&self, id: Id, update: CommunityUpdate) -> Result<Community> {
        if update.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(StoreError::invalid("community name must not be empty"));
        }
        let sql = "UPDATE communities SET
                name = COALESCE($2, name),
                description = CASE WHEN $3 THEN $4 ELSE description END,
                icon_url = CASE WHEN $5 THEN $6 ELSE icon_url END,
                version = version + 1
             WHERE id = $1";
        let n = with_writer!(self, pool => sqlx::query(sql)
            .bind(id.0)
            .bind(&update.name)
            .bind(update.description.is_some())
            .bind(update.description.clone().flatten())
            .bind(update.icon_url.is_some())
            .bind(update.icon_url.clone().flatten())
            .execute(pool)
            .await?
            .rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.community(id).await
    }

    /// Deletes a community and everything in it (channels, messages, roles,
    /// members, invites, bans); returns the voice states the deletion
    /// ended, each at a new version (as [`Store::delete_channel`] does).
    pub async fn delete_community(&self, id: Id) -> Result<Vec<VoiceState>> {
        let lock = self.row_lock();
        let how = voice::VoiceDeletion {
            lock: format!("SELECT id FROM communities WHERE id = $1{lock}"),
            // Its channels too, whose rows a voice join's foreign key
            // check reads.
            also_lock: (!lock.is_empty())
                .then(|| format!("SELECT id FROM channels WHERE community_id = $1{lock}")),
            channels: "IN (SELECT id FROM channels WHERE community_id = $1)",
            delete: "DELETE FROM communities WHERE id = $1",
        };
        self.delete_ending_voice(id, how).await
    }

    /// The communities a user is a member of, oldest first.
    pub async fn user_communities(&self, user_id: Id) -> Result<Vec<Community>> {
        let sql = format!(
            "SELECT {COMMUNITY_COLUMNS} FROM communities c
             JOIN members m ON m.community_id = c.id
             WHERE m.user_id = $1 ORDER BY c.id"
        );
        let rows: Vec<CommunityRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(user_id.0).fetch_all(pool).await?);
        Ok(rows.into_iter().map(Community::from).collect())
    }

    /// Bumps a community's permission version and returns the new value.
    ///
    /// Role, override, membership, ban, timeout and private-channel changes
    /// made through this store already bump it in their own transaction;
    /// this is for changes the store cannot see.
    pub async fn bump_permission_version(&self, id: Id) -> Result<i64> {
        let row: Option<(i64,)> = with_writer!(self, pool => sqlx::query_as(
            "UPDATE communities SET permission_version = permission_version + 1
             WHERE id = $1 RETURNING permission_version",
        )
        .bind(id.0)
        .fetch_optional(pool)
        .await?);
        row.map(|(v,)| v).ok_or(StoreError::NotFound)
    }
}
