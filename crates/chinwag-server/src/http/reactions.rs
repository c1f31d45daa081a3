//! Reactions and pins.

use axum::Router;
use axum::extract::State;
use axum::response::Json;
use axum::routing::{get, put};
use chinwag_chat::reactions::ReactionResult;
use chinwag_protocol::Id;
use chinwag_protocol::model::Message;

use super::extract::{Auth, Param};
use crate::{ApiError, AppState};

/// The routes of this area.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/messages/{message_id}/reactions/{emoji}",
            put(add).delete(remove),
        )
        .route("/messages/{message_id}/pin", put(pin).delete(unpin))
        .route("/channels/{channel_id}/pins", get(pins))
}

async fn add(
    State(state): State<AppState>,
    auth: Auth,
    Param((message, emoji)): Param<(Id, String)>,
) -> Result<Json<ReactionResult>, ApiError> {
    Ok(Json(
        state.chat.add_reaction(auth.user, message, &emoji).await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    Param((message, emoji)): Param<(Id, String)>,
) -> Result<Json<ReactionResult>, ApiError> {
    Ok(Json(
        state
            .chat
            .remove_reaction(auth.user, message, &emoji)
            .await?,
    ))
}

async fn pin(
    State(state): State<AppState>,
    auth: Auth,
    Param(message): Param<Id>,
) -> Result<Json<Message>, ApiError> {
    Ok(Json(state.chat.set_pinned(auth.user, message, true).await?))
}

async fn unpin(
    State(state): State<AppState>,
    auth: Auth,
    Param(message): Param<Id>,
) -> Result<Json<Message>, ApiError> {
    Ok(Json(
        state.chat.set_pinned(auth.user, message, false).await?,
    ))
}

async fn pins(
    State(state): State<AppState>,
    auth: Auth,
    Param(channel): Param<Id>,
) -> Result<Json<Vec<Message>>, ApiError> {
    Ok(Json(state.chat.pinned_messages(auth.user, channel).await?))
}
