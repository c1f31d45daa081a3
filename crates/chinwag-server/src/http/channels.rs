//! Channels: list and create in a community, reorder, get, update,
//! delete, and manage a private channel's member list.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Json;
use axum::routing::{get, put};
use chinwag_chat::{ChannelChange, ChannelSpec};
use chinwag_protocol::Id;
use chinwag_protocol::model::Channel;
use serde::{Deserialize, Serialize};

use super::extract::{Auth, Body, Param, nullable};
use crate::{ApiError, AppState};

/// The routes of this area.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/communities/{community_id}/channels",
            get(list).post(create),
        )
        .route("/communities/{community_id}/channels/order", put(reorder))
        .route(
            "/channels/{channel_id}",
            get(read).patch(update).delete(remove),
        )
        .route("/channels/{channel_id}/members", get(members))
        .route(
            "/channels/{channel_id}/members/{user_id}",
            put(add_member).delete(remove_member),
        )
}

/// `PATCH /channels/{id}` body: absent fields stay, `null` clears the topic.
#[derive(Debug, Deserialize)]
pub struct UpdateBody {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New topic.
    #[serde(default, deserialize_with = "nullable")]
    pub topic: Option<Option<String>>,
    /// New privacy.
    #[serde(default)]
    pub private: Option<bool>,
}

/// `PUT /communities/{id}/channels/order` body.
#[derive(Debug, Deserialize)]
pub struct ReorderBody {
    /// Every channel id of the community, in the new order.
    pub channel_ids: Vec<Id>,
}

/// A private channel's member list.
#[derive(Debug, Serialize)]
pub struct MembersBody {
    /// The user ids with access.
    pub user_ids: Vec<Id>,
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<Json<Vec<Channel>>, ApiError> {
    Ok(Json(state.chat.channels(auth.user, id).await?))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Body(spec): Body<ChannelSpec>,
) -> Result<(StatusCode, Json<Channel>), ApiError> {
    let channel = state.chat.create_channel(auth.user, id, spec).await?;
    Ok((StatusCode::CREATED, Json(channel)))
}

async fn reorder(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Body(body): Body<ReorderBody>,
) -> Result<Json<Vec<Channel>>, ApiError> {
    Ok(Json(
        state
            .chat
            .reorder_channels(auth.user, id, &body.channel_ids)
            .await?,
    ))
}

async fn read(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<Json<Channel>, ApiError> {
    Ok(Json(state.chat.channel(auth.user, id).await?))
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Body(body): Body<UpdateBody>,
) -> Result<Json<Channel>, ApiError> {
    let change = ChannelChange {
        name: body.name,
        topic: body.topic,
        private: body.private,
    };
    Ok(Json(
        state.chat.update_channel(auth.user, id, change).await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<StatusCode, ApiError> {
    state.chat.delete_channel(auth.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<Json<MembersBody>, ApiError> {
    let user_ids = state.chat.private_channel_members(auth.user, id).await?;
    Ok(Json(MembersBody { user_ids }))
}

async fn add_member(
    State(state): State<AppState>,
    auth: Auth,
    Param((channel, user)): Param<(Id, Id)>,
) -> Result<StatusCode, ApiError> {
    state
        .chat
        .add_private_channel_member(auth.user, channel, user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    State(state): State<AppState>,
    auth: Auth,
    Param((channel, user)): Param<(Id, Id)>,
) -> Result<StatusCode, ApiError> {
    state
        .chat
        .remove_private_channel_member(auth.user, channel, user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
