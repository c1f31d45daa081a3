//! `/api/v1/communities`: create, list mine, get, update, delete, members;
//! and `/users/@me/communities/{id}`: leave.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Json;
use axum::routing::{delete, get};
use chinwag_chat::{CommunityChange, CommunitySpec};
use chinwag_protocol::Id;
use chinwag_protocol::model::{Community, Member};
use serde::Deserialize;

use super::extract::{Auth, Body, PageAfter, Param, Params, nullable};
use crate::{ApiError, AppState};

/// The routes of this area.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/communities", get(list).post(create))
        .route(
            "/communities/{community_id}",
            get(read).patch(update).delete(remove),
        )
        .route("/communities/{community_id}/members", get(members))
        .route("/users/@me/communities/{community_id}", delete(leave))
}

/// `POST /communities` body.
#[derive(Debug, Deserialize)]
pub struct CreateBody {
    /// 1..=100 characters.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Icon URL.
    #[serde(default)]
    pub icon_url: Option<String>,
}

/// `PATCH /communities/{id}` body: absent fields stay, `null` clears.
#[derive(Debug, Deserialize)]
pub struct UpdateBody {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description.
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    /// New icon URL.
    #[serde(default, deserialize_with = "nullable")]
    pub icon_url: Option<Option<String>>,
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Body(body): Body<CreateBody>,
) -> Result<(StatusCode, Json<Community>), ApiError> {
    let spec = CommunitySpec {
        name: body.name,
        description: body.description,
        icon_url: body.icon_url,
    };
    let community = state.chat.create_community(auth.user, spec).await?;
    Ok((StatusCode::CREATED, Json(community)))
}

async fn list(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<Community>>, ApiError> {
    Ok(Json(state.chat.my_communities(auth.user).await?))
}

async fn read(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<Json<Community>, ApiError> {
    Ok(Json(state.chat.community(auth.user, id).await?))
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Body(body): Body<UpdateBody>,
) -> Result<Json<Community>, ApiError> {
    let change = CommunityChange {
        name: body.name,
        description: body.description,
        icon_url: body.icon_url,
    };
    Ok(Json(
        state.chat.update_community(auth.user, id, change).await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<StatusCode, ApiError> {
    state.chat.delete_community(auth.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn leave(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<StatusCode, ApiError> {
    state.chat.leave_community(auth.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Params(page): Params<PageAfter>,
) -> Result<Json<Vec<Member>>, ApiError> {
    Ok(Json(
        state
            .chat
            .members(auth.user, id, page.after, page.limit())
            .await?,
    ))
}
