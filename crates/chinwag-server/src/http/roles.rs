//! Roles and permissions: list and create a community's roles, update and
//! delete a role, assign and unassign, the caller's effective
//! permissions, and channel permission overrides.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Json;
use axum::routing::{get, patch, put};
use chinwag_chat::roles::{OverrideKind, RoleChange, RoleSpec};
use chinwag_protocol::Id;
use chinwag_protocol::model::Role;
use serde::{Deserialize, Serialize};

use super::extract::{Auth, Body, Param, Params, nullable};
use crate::{ApiError, AppState};

/// The routes of this area.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/communities/{community_id}/roles", get(list).post(create))
        .route("/roles/{role_id}", patch(update).delete(remove))
        .route(
            "/communities/{community_id}/members/{user_id}/roles/{role_id}",
            put(assign).delete(unassign),
        )
        .route("/communities/{community_id}/permissions", get(permissions))
        .route(
            "/channels/{channel_id}/overrides/{kind}/{target_id}",
            put(set_override).delete(delete_override),
        )
}

/// `PATCH /roles/{id}` body: absent fields stay, `null` clears the color.
#[derive(Debug, Deserialize)]
pub struct UpdateBody {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New permission bits.
    #[serde(default)]
    pub permissions: Option<u64>,
    /// New position.
    #[serde(default)]
    pub position: Option<i32>,
    /// New color.
    #[serde(default, deserialize_with = "nullable")]
    pub color: Option<Option<u32>>,
}

/// `GET /communities/{id}/permissions` query.
#[derive(Debug, Deserialize)]
pub struct PermissionsQuery {
    /// A channel of the community, for channel-level permissions.
    #[serde(default)]
    pub channel_id: Option<Id>,
}

/// The caller's effective permission bits.
#[derive(Debug, Serialize)]
pub struct PermissionsBody {
    /// The bits (see `chinwag_protocol::permissions`).
    pub permissions: u64,
}

/// `PUT /channels/{id}/overrides/{kind}/{target}` body.
#[derive(Debug, Deserialize)]
pub struct OverrideBody {
    /// Bits granted in the channel.
    #[serde(default)]
    pub allow: u64,
    /// Bits removed in the channel.
    #[serde(default)]
    pub deny: u64,
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<Json<Vec<Role>>, ApiError> {
    Ok(Json(state.chat.roles(auth.user, id).await?))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Body(spec): Body<RoleSpec>,
) -> Result<(StatusCode, Json<Role>), ApiError> {
    let role = state.chat.create_role(auth.user, id, spec).await?;
    Ok((StatusCode::CREATED, Json(role)))
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Body(body): Body<UpdateBody>,
) -> Result<Json<Role>, ApiError> {
    let change = RoleChange {
        name: body.name,
        permissions: body.permissions,
        position: body.position,
        color: body.color,
    };
    Ok(Json(state.chat.update_role(auth.user, id, change).await?))
}

async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<StatusCode, ApiError> {
    state.chat.delete_role(auth.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn assign(
    State(state): State<AppState>,
    auth: Auth,
    Param((community, user, role)): Param<(Id, Id, Id)>,
) -> Result<StatusCode, ApiError> {
    state
        .chat
        .assign_role(auth.user, community, user, role)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unassign(
    State(state): State<AppState>,
    auth: Auth,
    Param((community, user, role)): Param<(Id, Id, Id)>,
) -> Result<StatusCode, ApiError> {
    state
        .chat
        .unassign_role(auth.user, community, user, role)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn permissions(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Params(query): Params<PermissionsQuery>,
) -> Result<Json<PermissionsBody>, ApiError> {
    let permissions = state
        .chat
        .my_permissions(auth.user, id, query.channel_id)
        .await?;
    Ok(Json(PermissionsBody { permissions }))
}

async fn set_override(
    State(state): State<AppState>,
    auth: Auth,
    Param((channel, kind, target)): Param<(Id, OverrideKind, Id)>,
    Body(body): Body<OverrideBody>,
) -> Result<StatusCode, ApiError> {
    state
        .chat
        .set_channel_override(auth.user, channel, kind, target, body.allow, body.deny)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_override(
    State(state): State<AppState>,
    auth: Auth,
    Param((channel, kind, target)): Param<(Id, OverrideKind, Id)>,
) -> Result<StatusCode, ApiError> {
    state
        .chat
        .delete_channel_override(auth.user, channel, kind, target)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
