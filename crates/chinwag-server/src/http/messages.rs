//! Messages: history and send in a channel or DM, then get, edit and
//! delete one message.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Json;
use axum::routing::get;
use chinwag_chat::{HistoryQuery, MessageSpec};
use chinwag_protocol::Id;
use chinwag_protocol::model::Message;
use serde::Deserialize;

use super::extract::{Auth, Body, Param, Params};
use crate::{ApiError, AppState};

/// The routes of this area.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/channels/{channel_id}/messages", get(history).post(send))
        .route(
            "/messages/{message_id}",
            get(read).patch(edit).delete(remove),
        )
        .route("/messages/{message_id}/thread", get(thread))
}

/// `PATCH /messages/{id}` body.
#[derive(Debug, Deserialize)]
pub struct EditBody {
    /// The new text.
    pub content: String,
}

async fn history(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Params(query): Params<HistoryQuery>,
) -> Result<Json<Vec<Message>>, ApiError> {
    Ok(Json(state.chat.history(auth.user, id, &query).await?))
}

async fn thread(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Params(query): Params<HistoryQuery>,
) -> Result<Json<Vec<Message>>, ApiError> {
    Ok(Json(state.chat.thread(auth.user, id, &query).await?))
}

async fn send(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Body(spec): Body<MessageSpec>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let message = state.chat.send_message(auth.user, id, spec).await?;
    Ok((StatusCode::CREATED, Json(message)))
}

async fn read(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<Json<Message>, ApiError> {
    Ok(Json(state.chat.message(auth.user, id).await?))
}

async fn edit(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Body(body): Body<EditBody>,
) -> Result<Json<Message>, ApiError> {
    Ok(Json(
        state
            .chat
            .edit_message(auth.user, id, &body.content)
            .await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<StatusCode, ApiError> {
    state.chat.delete_message(auth.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
