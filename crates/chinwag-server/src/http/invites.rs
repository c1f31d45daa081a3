//! Invites: `POST` and `GET /communities/{id}/invites` (create, list),
//! `GET /invites/{code}` (public preview, no token needed),
//! `DELETE /invites/{code}` (revoke), `POST /invites/{code}/join`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Json;
use axum::routing::{get, post};
use chinwag_chat::{InvitePreview, InviteSpec};
use chinwag_protocol::model::{Community, Invite, Member, UserRole};
use chinwag_protocol::{Id, Timestamp};
use serde::Serialize;

use super::extract::{Auth, Body, Param};
use crate::{ApiError, AppState};

/// The routes of this area.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/communities/{community_id}/invites",
            post(create).get(list),
        )
        .route("/invites/{code}", get(preview).delete(revoke))
        .route("/invites/{code}/join", post(join))
}

/// What `POST /invites/{code}/join` answers: the community, the new
/// membership, and a fresh access token (send it as `reauth` on open
/// streams; they are already joined to the community's rooms).
#[derive(Debug, Serialize)]
pub struct JoinedBody {
    /// The community.
    pub community: Community,
    /// The membership.
    pub member: Member,
    /// A fresh access token.
    pub access_token: String,
    /// Its expiry (ms).
    pub access_token_expires_at: Timestamp,
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
    Body(spec): Body<InviteSpec>,
) -> Result<(StatusCode, Json<Invite>), ApiError> {
    let invite = state.chat.create_invite(auth.user, id, spec).await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<Json<Vec<Invite>>, ApiError> {
    Ok(Json(state.chat.invites(auth.user, id).await?))
}

async fn revoke(
    State(state): State<AppState>,
    auth: Auth,
    Param(code): Param<String>,
) -> Result<StatusCode, ApiError> {
    state.chat.revoke_invite(auth.user, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn preview(
    State(state): State<AppState>,
    Param(code): Param<String>,
) -> Result<Json<InvitePreview>, ApiError> {
    Ok(Json(state.chat.preview_invite(&code).await?))
}

async fn join(
    State(state): State<AppState>,
    auth: Auth,
    Param(code): Param<String>,
) -> Result<Json<JoinedBody>, ApiError> {
    let joined = state.chat.join_invite(auth.user, &code).await?;
    let role = if joined.member.user.bot {
        UserRole::Bot
    } else {
        UserRole::User
    };
    let (access_token, access_token_expires_at) = state.keys.issue(auth.user, role, auth.session);
    Ok(Json(JoinedBody {
        community: joined.community,
        member: joined.member,
        access_token,
        access_token_expires_at,
    }))
}
