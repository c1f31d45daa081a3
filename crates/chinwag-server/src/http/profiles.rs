//! Profiles: `PATCH /users/@me` and `GET /users/{user_id}` (routed next
//! to `GET /users/@me` in [`super::auth`]).

use axum::extract::State;
use axum::response::Json;
use chinwag_chat::profiles::ProfileChange;
use chinwag_protocol::Id;
use chinwag_protocol::model::User;
use serde::Deserialize;

use super::extract::{Auth, Body, Param, nullable};
use crate::{ApiError, AppState};

/// `PATCH /users/@me` body: absent fields stay, `null` clears.
#[derive(Debug, Deserialize)]
pub struct ProfileBody {
    /// New display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// New avatar URL.
    #[serde(default, deserialize_with = "nullable")]
    pub avatar_url: Option<Option<String>>,
    /// New bio.
    #[serde(default, deserialize_with = "nullable")]
    pub bio: Option<Option<String>>,
}

/// Changes the caller's profile; emits `USER_PROFILE_UPDATED`.
pub async fn update_me(
    State(state): State<AppState>,
    auth: Auth,
    Body(body): Body<ProfileBody>,
) -> Result<Json<User>, ApiError> {
    let change = ProfileChange {
        display_name: body.display_name,
        avatar_url: body.avatar_url,
        bio: body.bio,
    };
    Ok(Json(state.chat.update_profile(auth.user, change).await?))
}

/// Another user's profile (sharing a community or a DM with them).
pub async fn read(
    State(state): State<AppState>,
    auth: Auth,
    Param(user_id): Param<Id>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.chat.profile(auth.user, user_id).await?))
}
