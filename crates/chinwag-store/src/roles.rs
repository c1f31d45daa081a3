//! Roles, role assignments, and per-channel permission overrides.
//!
//! Every change here bumps the community's `permission_version` in the same
//! transaction.

use chinwag_protocol::Id;
use chinwag_protocol::model::Role;
use chinwag_protocol::permissions::ALL;

use crate::communities::BUMP_PERMISSION_VERSION;
use crate::error::{Result, StoreError};
use crate::store::{BeginWrite as _, Store, room_for_one_more, with_pool, with_writer};

const ROLE_COLUMNS: &str = "id, community_id, name, permissions, position, color, version";

#[derive(Debug, sqlx::FromRow)]
struct RoleRow {
    id: i64,
    community_id: i64,
    name: String,
    permissions: i64,
    position: i64,
    color: Option<i64>,
    version: i64,
}

impl From<RoleRow> for Role {
    fn from(r: RoleRow) -> Self {
        Role {
            id: Id(r.id),
            community_id: Id(r.community_id),
            name: r.name,
            // Bits no permission defines (stored by older versions) mean
            // nothing; they are dropped on read.
            permissions: r.permissions as u64 & ALL,
            position: i32::try_from(r.position).unwrap_or(i32::MAX),
            color: r.color.and_then(|c| u32::try_from(c).ok()),
            version: r.version,
        }
    }
}

/// A role to create.
#[derive(Debug, Clone)]
pub struct NewRole {
    /// Community id.
    pub community_id: Id,
    /// Name.
    pub name: String,
    /// Permission bits.
    pub permissions: u64,
    /// Position; must be above 0 (the @everyone position).
    pub position: i32,
    /// Display color (0xRRGGBB).
    pub color: Option<u32>,
}

/// A role change; `None` fields are left as they are.
#[derive(Debug, Clone, Default)]
pub struct RoleUpdate {
    /// New name.
    pub name: Option<String>,
    /// New permission bits.
    pub permissions: Option<u64>,
    /// New position (not allowed for @everyone, which stays at 0).
    pub position: Option<i32>,
    /// New color (`Some(None)` clears it).
    pub color: Option<Option<u32>>,
}

/// Who a channel permission override applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverrideTarget {
    /// Everyone holding the role (the @everyone role id for everyone).
    Role(Id),
    /// One user.
    User(Id),
}

impl OverrideTarget {
    fn parts(self) -> (&'static str, i64) {
        match self {
            OverrideTarget::Role(id) => ("role", id.0),
            OverrideTarget::User(id) => ("user", id.0),
        }
    }
}

/// Allowed and denied permission bits for one target in one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionOverride {
    /// Channel id.
    pub channel_id: Id,
    /// Who it applies to.
    pub target: OverrideTarget,
    /// Bits granted in this channel.
    pub allow: u64,
    /// Bits removed in this channel.
    pub deny: u64,
}

/// The most roles one community holds, @everyone and Admin included.
pub const MAX_ROLES_PER_COMMUNITY: usize = 250;

impl Store {
    /// Creates a role in a community; [`StoreError::Limit`] when it holds
    /// [`MAX_ROLES_PER_COMMUNITY`].
    pub async fn create_role(&self, new: NewRole) -> Result<Role> {
        if new.position <= 0 {
            return Err(StoreError::invalid("role position must be above 0"));
        }
        if new.name.trim().is_empty() {
            return Err(StoreError::invalid("role name must not be empty"));
        }
        let id = self.next_id();
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            room_for_one_more!(
                self, tx, "SELECT id FROM communities WHERE id = $1", new.community_id.0,
                "SELECT COUNT(*) FROM roles WHERE community_id = $1";
                MAX_ROLES_PER_COMMUNITY,
                format!("at most {MAX_ROLES_PER_COMMUNITY} roles in a community: remove one first")
            );
            sqlx::query(
                "INSERT INTO roles (id, community_id, name, permissions, position, color)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.0)
            .bind(new.community_id.0)
            .bind(&new.name)
            .bind(new.permissions as i64)
            .bind(i64::from(new.position))
            .bind(new.color.map(i64::from))
            .execute(&mut *tx)
            .await?;
            sqlx::query(BUMP_PERMISSION_VERSION).bind(new.community_id.0).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        self.role(id).await
    }

    /// A role by id.
    pub async fn role(&self, id: Id) -> Result<Role> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE id = $1");
        let row: Option<RoleRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id.0).fetch_optional(pool).await?);
        row.map(Role::from).ok_or(StoreError::NotFound)
    }

    /// A community's roles, lowest position first (@everyone first).
    pub async fn community_roles(&self, community_id: Id) -> Result<Vec<Role>> {
        let sql = format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE community_id = $1 ORDER BY position, id"
        );
        let rows: Vec<RoleRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(community_id.0)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(Role::from).collect())
    }

    /// Changes a role and bumps its version.
    pub async fn update_role(&self, id: Id, update: RoleUpdate) -> Result<Role> {
        let current = self.role(id).await?;
        if let Some(position) = update.position {
            let everyone = current.id == current.community_id;
            if everyone && position != 0 {
                return Err(StoreError::invalid(
                    "the @everyone role stays at position 0",
                ));
            }
            if !everyone && position <= 0 {
                return Err(StoreError::invalid("role position must be above 0"));
            }
        }
        if update.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(StoreError::invalid("role name must not be empty"));
        }
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE roles SET
                    name = COALESCE($2, name),
                    permissions = COALESCE($3, permissions),
                    position = COALESCE($4, position),
                    color = CASE WHEN $5 THEN $6 ELSE color END,
                    version = version + 1
                 WHERE id = $1",
            )
            .bind(id.0)
            .bind(&update.name)
            .bind(update.permissions.map(|p| p as i64))
            .bind(update.position.map(i64::from))
            .bind(update.color.is_some())
            .bind(update.color.flatten().map(i64::from))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(BUMP_PERMISSION_VERSION).bind(current.community_id.0).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        self.role(id).await
    }

    /// Deletes a role (and its assignments and overrides); returns it.
    /// The @everyone role cannot be deleted.
    pub async fn delete_role(&self, id: Id) -> Result<Role> {
        let role = self.role(id).await?;
        if role.id == role.community_id {
            return Err(StoreError::invalid("the @everyone role cannot be deleted"));
        }
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM roles WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM channel_overrides WHERE target_kind = 'role' AND target_id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(BUMP_PERMISSION_VERSION).bind(role.community_id.0).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(role)
    }

    /// Gives a member a role; returns whether it was newly assigned.
    /// [`StoreError::NotFound`] if the role is not in that community or the
    /// user is not a member.
    pub async fn assign_role(&self, community_id: Id, user_id: Id, role_id: Id) -> Result<bool> {
        if role_id == community_id {
            return Err(StoreError::invalid(
                "every member holds @everyone implicitly",
            ));
        }
        let role = self.role(role_id).await?;
        if role.community_id != community_id {
            return Err(StoreError::NotFound);
        }
        let changed = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "INSERT INTO member_roles (community_id, user_id, role_id) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(community_id.0)
            .bind(user_id.0)
            .bind(role_id.0)
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

    /// Takes a role from a member; returns whether it was held.
    pub async fn unassign_role(&self, community_id: Id, user_id: Id, role_id: Id) -> Result<bool> {
        let changed = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "DELETE FROM member_roles WHERE community_id = $1 AND user_id = $2 AND role_id = $3",
            )
            .bind(community_id.0)
            .bind(user_id.0)
            .bind(role_id.0)
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

    /// Sets (inserts or replaces) a channel permission override. The
    /// channel must be a community channel.
    pub async fn set_override(&self, o: PermissionOverride) -> Result<()> {
        let community_id = self.channel_community(o.channel_id).await?;
        let (kind, target) = o.target.parts();
        with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO channel_overrides (channel_id, target_kind, target_id, allow_bits, deny_bits)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (channel_id, target_kind, target_id)
                 DO UPDATE SET allow_bits = excluded.allow_bits, deny_bits = excluded.deny_bits",
            )
            .bind(o.channel_id.0)
            .bind(kind)
            .bind(target)
            .bind(o.allow as i64)
            .bind(o.deny as i64)
            .execute(&mut *tx)
            .await?;
            sqlx::query(BUMP_PERMISSION_VERSION).bind(community_id.0).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Removes an override; returns whether there was one.
    pub async fn delete_override(&self, channel_id: Id, target: OverrideTarget) -> Result<bool> {
        let community_id = self.channel_community(channel_id).await?;
        let (kind, target) = target.parts();
        let changed = with_writer!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "DELETE FROM channel_overrides WHERE channel_id = $1 AND target_kind = $2 AND target_id = $3",
            )
            .bind(channel_id.0)
            .bind(kind)
            .bind(target)
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

    /// A channel's overrides.
    pub async fn channel_overrides(&self, channel_id: Id) -> Result<Vec<PermissionOverride>> {
        let rows: Vec<(String, i64, i64, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT target_kind, target_id, allow_bits, deny_bits FROM channel_overrides
             WHERE channel_id = $1 ORDER BY target_kind, target_id",
        )
        .bind(channel_id.0)
        .fetch_all(pool)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(kind, target, allow, deny)| PermissionOverride {
                channel_id,
                target: if kind == "user" {
                    OverrideTarget::User(Id(target))
                } else {
                    OverrideTarget::Role(Id(target))
                },
                allow: allow as u64 & ALL,
                deny: deny as u64 & ALL,
            })
            .collect())
    }
}
