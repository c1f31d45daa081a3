//! Profiles and presence: `PATCH /users/@me`, `GET /users/{user_id}` and
//! `GET /users/presences` (routed next to `GET /users/@me` in
//! [`super::auth`]).

use axum::extract::State;
use axum::response::Json;
use chinwag_chat::profiles::ProfileChange;
use chinwag_protocol::Id;
use chinwag_protocol::model::{Presence, User};
use serde::Deserialize;

use super::extract::{Auth, Body, Param, Params, nullable};
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

/// The most users one `GET /users/presences` asks about.
pub const MAX_PRESENCE_IDS: usize = 100;

/// `GET /users/presences` query.
#[derive(Debug, Deserialize)]
pub struct PresencesQuery {
    /// Comma-separated user ids, 1..=100.
    pub user_ids: String,
}

/// The current presence of each listed user the caller may see (themself,
/// and users sharing a community or a DM with them), in the order asked;
/// the others are left out. What a client reads once at connect, then
/// keeps current from `USER_ONLINE` / `USER_OFFLINE`.
pub async fn presences(
    State(state): State<AppState>,
    auth: Auth,
    Params(query): Params<PresencesQuery>,
) -> Result<Json<Vec<Presence>>, ApiError> {
    let mut ids = Vec::new();
    for part in query.user_ids.split(',') {
        let id = part
            .trim()
            .parse::<Id>()
            .map_err(|_| ApiError::bad_request(format!("not a user id: {part:?}")))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() > MAX_PRESENCE_IDS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_PRESENCE_IDS} user ids"
        )));
    }
    let visible = state.chat.visible_users(auth.user, &ids).await?;
    // The reads go out together: on a broker, one round trip's wait.
    let reads = ids
        .into_iter()
        .filter(|id| visible.contains(id))
        .map(|id| state.presence.current(id));
    Ok(Json(futures_util::future::try_join_all(reads).await?))
}
