//! Read receipts and notifications.

use axum::Router;
use axum::extract::State;
use axum::response::Json;
use axum::routing::{get, post, put};
use chinwag_protocol::Id;
use chinwag_protocol::model::{Notification, ReadState};
use serde::{Deserialize, Serialize};

use super::extract::{Auth, Body, Param, Params};
use crate::{ApiError, AppState};

/// The routes of this area.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/channels/{channel_id}/read",
            put(mark_read).get(read_state),
        )
        .route("/users/@me/read-states", get(read_states))
        .route("/users/@me/notifications", get(notifications))
        .route("/users/@me/notifications/read", post(mark_notifications))
}

/// `PUT /channels/{id}/read` body.
#[derive(Debug, Deserialize)]
pub struct ReadBody {
    /// The last message read.
    pub message_id: Id,
}

/// `GET /users/@me/notifications` query.
#[derive(Debug, Deserialize)]
pub struct NotificationsQuery {
    /// Notifications older than this id.
    #[serde(default)]
    pub before: Option<Id>,
    /// Page size, 1..=100 (default 50).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only unread ones.
    #[serde(default)]
    pub unread_only: Option<bool>,
}

/// `POST /users/@me/notifications/read` body, and its answer.
#[derive(Debug, Deserialize, Serialize)]
pub struct IdsBody {
    /// Notification ids.
    pub notification_ids: Vec<Id>,
}

async fn mark_read(
    State(state): State<AppState>,
    auth: Auth,
    Param(channel): Param<Id>,
    Body(body): Body<ReadBody>,
) -> Result<Json<ReadState>, ApiError> {
    Ok(Json(
        state
            .chat
            .mark_read(auth.user, channel, body.message_id)
            .await?,
    ))
}

async fn read_state(
    State(state): State<AppState>,
    auth: Auth,
    Param(channel): Param<Id>,
) -> Result<Json<ReadState>, ApiError> {
    Ok(Json(state.chat.read_state(auth.user, channel).await?))
}

async fn read_states(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<ReadState>>, ApiError> {
    Ok(Json(state.chat.read_states(auth.user).await?))
}

async fn notifications(
    State(state): State<AppState>,
    auth: Auth,
    Params(q): Params<NotificationsQuery>,
) -> Result<Json<Vec<Notification>>, ApiError> {
    Ok(Json(
        state
            .chat
            .notifications(auth.user, q.before, q.limit, q.unread_only.unwrap_or(false))
            .await?,
    ))
}

async fn mark_notifications(
    State(state): State<AppState>,
    auth: Auth,
    Body(body): Body<IdsBody>,
) -> Result<Json<IdsBody>, ApiError> {
    let notification_ids = state
        .chat
        .mark_notifications_read(auth.user, &body.notification_ids)
        .await?;
    Ok(Json(IdsBody { notification_ids }))
}
