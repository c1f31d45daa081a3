//! Roles: list, create, update, delete, assign, unassign, and channel
//! permission overrides. Each change emits `ROLE_*` (or `CHANNEL_UPDATED`
//! for overrides) to `community:{id}`, then moves the affected members'
//! connections into and out of channel rooms live and asks them to
//! re-authenticate (see [`crate::permissions`]).
//!
//! Needs `MANAGE_ROLES`; a member manages only roles strictly below their
//! highest role, grants only bits they hold, and assigns roles only to
//! themselves or to members ranked below them.

use chinwag_protocol::event::channel::ChannelRef;
use chinwag_protocol::event::role::{RoleAssignment, RoleRef};
use chinwag_protocol::model::Role;
use chinwag_protocol::permissions::{ALL, MANAGE_ROLES};
use chinwag_protocol::{Event, Id};
use chinwag_realtime::RoomId;
use chinwag_store::roles::{NewRole, OverrideTarget, PermissionOverride, RoleUpdate};
use serde::Deserialize;

use crate::chat::Chat;
use crate::error::{ChatError, OrNotFound as _, Result};
use crate::permissions::Standing;
use crate::validate;

/// A role to create.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RoleSpec {
    /// Name, 1..=100 characters.
    pub name: String,
    /// Permission bits (default none).
    #[serde(default)]
    pub permissions: u64,
    /// Position (default 1, just above @everyone); must be below the
    /// caller's highest role.
    #[serde(default)]
    pub position: Option<i32>,
    /// Display color (0xRRGGBB).
    #[serde(default)]
    pub color: Option<u32>,
}

/// A role change; `None` fields stay, `Some(None)` clears the color.
#[derive(Debug, Clone, Default)]
pub struct RoleChange {
    /// New name.
    pub name: Option<String>,
    /// New permission bits.
    pub permissions: Option<u64>,
    /// New position.
    pub position: Option<i32>,
    /// New color.
    pub color: Option<Option<u32>>,
}

impl RoleChange {
    /// Whether it names no field (a `PATCH` of `{}`): applying it changes
    /// nothing, so it bumps no version and emits nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.permissions.is_none()
            && self.position.is_none()
            && self.color.is_none()
    }
}

/// Who a channel override applies to, on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideKind {
    /// A role (the community id for @everyone).
    Role,
    /// A member.
    User,
}

/// The most roles a community may hold, @everyone and Admin included; one
/// more is `CONFLICT` (the store counts under the community's lock).
pub use chinwag_store::roles::MAX_ROLES_PER_COMMUNITY;

impl Chat {
    /// A community's roles, lowest position first (members only).
    pub async fn roles(&self, user: Id, community_id: Id) -> Result<Vec<Role>> {
        self.standing(user, community_id).await?;
        Ok(self.store.community_roles(community_id).await?)
    }

    /// The caller's standing, requiring `MANAGE_ROLES`.
    async fn role_manager(&self, user: Id, community_id: Id) -> Result<Standing> {
        let standing = self.standing(user, community_id).await?;
        standing.require(MANAGE_ROLES)?;
        Ok(standing)
    }

    /// A role of the community the caller manages roles in, which must be
    /// ranked below the caller.
    async fn managed_role(&self, user: Id, role_id: Id) -> Result<(Standing, Role)> {
        let role = self.store.role(role_id).await.or_not_found("role")?;
        let standing = match self.standing(user, role.community_id).await {
            Ok(s) => s,
            Err(ChatError::NotFound(_)) => return Err(ChatError::NotFound("role")),
            Err(err) => return Err(err),
        };
        standing.require(MANAGE_ROLES)?;
        standing.outranks(i64::from(role.position), "roles")?;
        Ok((standing, role))
    }

    /// `FORBIDDEN` unless the caller holds every bit it grants.
    fn grantable(standing: &Standing, bits: u64) -> Result<()> {
        if bits & !ALL != 0 {
            return Err(ChatError::invalid("unknown permission bits"));
        }
        if bits & !standing.permissions != 0 {
            return Err(ChatError::forbidden(
                "you can only grant permissions you hold",
            ));
        }
        Ok(())
    }

    /// Creates a role; emits `ROLE_CREATED`.
    pub async fn create_role(&self, user: Id, community_id: Id, spec: RoleSpec) -> Result<Role> {
        let standing = self.role_manager(user, community_id).await?;
        let name = validate::name("name", &spec.name)?;
        validate::color(spec.color)?;
        let position = spec.position.unwrap_or(1);
        if position <= 0 {
            return Err(ChatError::invalid("position must be above 0"));
        }
        standing.outranks(i64::from(position), "roles")?;
        Self::grantable(&standing, spec.permissions)?;
        let role = self
            .store
            .create_role(NewRole {
                community_id,
                name,
                permissions: spec.permissions,
                position,
                color: spec.color,
            })
            .await?;
        self.emit(
            &RoomId::community(community_id),
            Event::RoleCreated(RoleRef {
                community_id,
                role_id: role.id,
            }),
        )
        .await;
        Ok(role)
    }

    /// Changes a role below the caller; emits `ROLE_UPDATED` and resyncs
    /// its holders (every member for @everyone). An empty change returns
    /// the role as it is.
    pub async fn update_role(&self, user: Id, role_id: Id, change: RoleChange) -> Result<Role> {
        let (standing, role) = self.managed_role(user, role_id).await?;
        if change.is_empty() {
            return Ok(role);
        }
        let everyone = role.id == role.community_id;
        if let Some(position) = change.position {
            if everyone && position != 0 {
                return Err(ChatError::invalid("@everyone stays at position 0"));
            }
            if !everyone {
                if position <= 0 {
                    return Err(ChatError::invalid("position must be above 0"));
                }
                standing.outranks(i64::from(position), "roles")?;
            }
        }
        if let Some(bits) = change.permissions {
            // Only the bits that change need to be held.
            Self::grantable(&standing, bits ^ role.permissions)?;
        }
        let name = match change.name {
            Some(name) if !everyone => Some(validate::name("name", &name)?),
            Some(_) => return Err(ChatError::invalid("@everyone cannot be renamed")),
            None => None,
        };
        validate::color(change.color.flatten())?;
        let community_id = role.community_id;
        let turn = self.community_turn(community_id).await;
        let affected = self.role_holders(community_id, &role).await?;
        let before = self.snapshot(&turn, &affected).await?;
        let role = self
            .store
            .update_role(
                role_id,
                RoleUpdate {
                    name,
                    permissions: change.permissions,
                    position: change.position,
                    color: change.color,
                },
            )
            .await?;
        self.emit(
            &RoomId::community(community_id),
            Event::RoleUpdated(RoleRef {
                community_id,
                role_id,
            }),
        )
        .await;
        self.resync(&turn, before).await?;
        Ok(role)
    }

    /// Deletes a role below the caller whose bits the caller holds; emits
    /// `ROLE_DELETED` and resyncs its former holders.
    pub async fn delete_role(&self, user: Id, role_id: Id) -> Result<()> {
        let (standing, role) = self.managed_role(user, role_id).await?;
        if role.id == role.community_id {
            return Err(ChatError::invalid("@everyone cannot be deleted"));
        }
        // Taking bits away from its holders is granting them, reversed.
        Self::grantable(&standing, role.permissions)?;
        let community_id = role.community_id;
        let turn = self.community_turn(community_id).await;
        let affected = self.role_holders(community_id, &role).await?;
        let before = self.snapshot(&turn, &affected).await?;
        self.store.delete_role(role_id).await?;
        self.emit(
            &RoomId::community(community_id),
            Event::RoleDeleted(RoleRef {
                community_id,
                role_id,
            }),
        )
        .await;
        self.resync(&turn, before).await?;
        Ok(())
    }

    /// Gives `target` a role below the caller whose bits the caller holds;
    /// emits `ROLE_ASSIGNED` when newly assigned.
    pub async fn assign_role(
        &self,
        user: Id,
        community_id: Id,
        target: Id,
        role_id: Id,
    ) -> Result<bool> {
        self.change_assignment(user, community_id, target, role_id, true)
            .await
    }

    /// Takes a role (below the caller, bits the caller holds) from
    /// `target`; emits `ROLE_UNASSIGNED` when it was held.
    pub async fn unassign_role(
        &self,
        user: Id,
        community_id: Id,
        target: Id,
        role_id: Id,
    ) -> Result<bool> {
        self.change_assignment(user, community_id, target, role_id, false)
            .await
    }

    async fn change_assignment(
        &self,
        user: Id,
        community_id: Id,
        target: Id,
        role_id: Id,
        assign: bool,
    ) -> Result<bool> {
        let standing = self.role_manager(user, community_id).await?;
        let role = self.store.role(role_id).await.or_not_found("role")?;
        if role.community_id != community_id {
            return Err(ChatError::NotFound("role"));
        }
        if role.id == community_id {
            return Err(ChatError::invalid("every member holds @everyone"));
        }
        if !self.store.is_member(community_id, target).await? {
            return Err(ChatError::NotFound("member"));
        }
        standing.outranks(i64::from(role.position), "roles")?;
        // Handing out (or taking back) a role grants its bits: without this
        // a MANAGE_ROLES holder could assign themselves a lower role that
        // carries ADMINISTRATOR.
        Self::grantable(&standing, role.permissions)?;
        if target != user {
            let target_rank = self.rank(&standing.community, target).await?;
            standing.outranks(target_rank, "members")?;
        }
        let turn = self.community_turn(community_id).await;
        let before = self.snapshot(&turn, &[target]).await?;
        let changed = if assign {
            self.store
                .assign_role(community_id, target, role_id)
                .await?
        } else {
            self.store
                .unassign_role(community_id, target, role_id)
                .await?
        };
        if changed {
            let payload = RoleAssignment {
                community_id,
                role_id,
                user_id: target,
            };
            let event = if assign {
                Event::RoleAssigned(payload)
            } else {
                Event::RoleUnassigned(payload)
            };
            self.emit(&RoomId::community(community_id), event).await;
            self.resync(&turn, before).await?;
        }
        Ok(changed)
    }

    /// Sets a channel permission override (`MANAGE_ROLES` and
    /// `MANAGE_CHANNELS`); emits `CHANNEL_UPDATED` and resyncs the members
    /// it may affect.
    pub async fn set_channel_override(
        &self,
        user: Id,
        channel_id: Id,
        kind: OverrideKind,
        target: Id,
        allow: u64,
        deny: u64,
    ) -> Result<()> {
        self.change_override(user, channel_id, kind, target, Some((allow, deny)))
            .await
    }

    /// Removes a channel permission override; emits `CHANNEL_UPDATED`.
    pub async fn delete_channel_override(
        &self,
        user: Id,
        channel_id: Id,
        kind: OverrideKind,
        target: Id,
    ) -> Result<()> {
        self.change_override(user, channel_id, kind, target, None)
            .await
    }

    async fn change_override(
        &self,
        user: Id,
        channel_id: Id,
        kind: OverrideKind,
        target: Id,
        bits: Option<(u64, u64)>,
    ) -> Result<()> {
        let (channel, _) = self.visible_channel(user, channel_id).await?;
        let Some(community_id) = channel.community_id else {
            return Err(ChatError::invalid("DMs have no permission overrides"));
        };
        let standing = self.role_manager(user, community_id).await?;
        standing.require(chinwag_protocol::permissions::MANAGE_CHANNELS)?;
        let target = match kind {
            OverrideKind::Role => {
                let role = self.store.role(target).await.or_not_found("role")?;
                if role.community_id != community_id {
                    return Err(ChatError::NotFound("role"));
                }
                standing.outranks(i64::from(role.position), "roles")?;
                OverrideTarget::Role(target)
            }
            OverrideKind::User => {
                if !self.store.is_member(community_id, target).await? {
                    return Err(ChatError::NotFound("member"));
                }
                if target != user {
                    let rank = self.rank(&standing.community, target).await?;
                    standing.outranks(rank, "members")?;
                }
                OverrideTarget::User(target)
            }
        };
        if let Some((allow, deny)) = bits {
            Self::grantable(&standing, allow | deny)?;
        }
        let turn = self.community_turn(community_id).await;
        let affected = self.store.member_ids(community_id).await?;
        let before = self.snapshot(&turn, &affected).await?;
        match bits {
            Some((allow, deny)) => {
                self.store
                    .set_override(PermissionOverride {
                        channel_id,
                        target,
                        allow,
                        deny,
                    })
                    .await?
            }
            None => {
                if !self.store.delete_override(channel_id, target).await? {
                    // There was none: nothing changed, nothing to tell.
                    return Ok(());
                }
            }
        }
        self.emit(
            &RoomId::community(community_id),
            Event::ChannelUpdated(ChannelRef {
                community_id,
                channel_id,
            }),
        )
        .await;
        self.resync(&turn, before).await?;
        Ok(())
    }

    /// The members a role's change may affect: its holders, or everyone
    /// for @everyone.
    async fn role_holders(&self, community_id: Id, role: &Role) -> Result<Vec<Id>> {
        let members = self.store.member_ids(community_id).await?;
        if role.id == community_id {
            return Ok(members);
        }
        let mut out = Vec::new();
        for member in members {
            if self
                .store
                .member_role_ids(community_id, member)
                .await?
                .contains(&role.id)
            {
                out.push(member);
            }
        }
        Ok(out)
    }
}
