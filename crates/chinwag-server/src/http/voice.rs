//! Voice presence state: join a voice channel or DM call, list who is in
//! it, change mute/deafen, leave.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Json;
use axum::routing::{patch, put};
use chinwag_protocol::Id;
use chinwag_protocol::model::VoiceState;
use serde::Deserialize;

use super::extract::{Auth, Body, OptionalBody, Param};
use crate::{ApiError, AppState};

/// The routes of this area.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/channels/{channel_id}/voice", put(join).get(list))
        .route("/users/@me/voice", patch(update).delete(leave))
}

/// Join and update body.
#[derive(Debug, Default, Deserialize)]
pub struct VoiceBody {
    /// Muted.
    #[serde(default)]
    pub muted: Option<bool>,
    /// Deafened.
    #[serde(default)]
    pub deafened: Option<bool>,
}

async fn join(
    State(state): State<AppState>,
    auth: Auth,
    Param(channel): Param<Id>,
    OptionalBody(b): OptionalBody<VoiceBody>,
) -> Result<Json<VoiceState>, ApiError> {
    Ok(Json(
        state
            .chat
            .join_voice(
                auth.user,
                channel,
                b.muted.unwrap_or(false),
                b.deafened.unwrap_or(false),
            )
            .await?,
    ))
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Param(channel): Param<Id>,
) -> Result<Json<Vec<VoiceState>>, ApiError> {
    Ok(Json(state.chat.voice_states(auth.user, channel).await?))
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Body(b): Body<VoiceBody>,
) -> Result<Json<VoiceState>, ApiError> {
    Ok(Json(
        state
            .chat
            .update_voice(auth.user, b.muted, b.deafened)
            .await?,
    ))
}

async fn leave(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, ApiError> {
    if state.chat.leave_voice(auth.user).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("voice state not found"))
    }
}
