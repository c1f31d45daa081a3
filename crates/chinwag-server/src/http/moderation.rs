//! Moderation: kick, ban, unban, list bans, time out, lift a timeout.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Json;
use axum::routing::{delete, get, put};
use chinwag_protocol::model::{Member, User};
use chinwag_protocol::{Id, Timestamp};
use chinwag_store::Ban;
use serde::{Deserialize, Serialize};

use super::extract::{Auth, Body, OptionalBody, PageAfter, Param, Params};
use crate::{ApiError, AppState};

/// The routes of this area.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/communities/{community_id}/members/{user_id}",
            delete(kick),
        )
        .route("/communities/{community_id}/bans", get(bans))
        .route(
            "/communities/{community_id}/bans/{user_id}",
            put(ban).delete(unban),
        )
        .route(
            "/communities/{community_id}/members/{user_id}/timeout",
            put(timeout).delete(remove_timeout),
        )
}

/// `PUT /communities/{id}/bans/{user}` body.
#[derive(Debug, Default, Deserialize)]
pub struct BanBody {
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A ban.
#[derive(Debug, Serialize)]
pub struct BanView {
    /// Community id.
    pub community_id: Id,
    /// The banned user.
    pub user: User,
    /// Who banned them.
    pub actor_id: Id,
    /// Why.
    pub reason: Option<String>,
    /// When.
    pub created_at: Timestamp,
}

impl From<Ban> for BanView {
    fn from(b: Ban) -> Self {
        BanView {
            community_id: b.community_id,
            user: b.user,
            actor_id: b.actor_id,
            reason: b.reason,
            created_at: b.created_at,
        }
    }
}

/// `PUT /communities/{id}/members/{user}/timeout` body: `until` (a
/// timestamp) or `duration_secs`.
#[derive(Debug, Deserialize)]
pub struct TimeoutBody {
    /// When the timeout ends.
    #[serde(default)]
    pub until: Option<Timestamp>,
    /// How long it lasts from now.
    #[serde(default)]
    pub duration_secs: Option<u64>,
}

async fn kick(
    State(state): State<AppState>,
    auth: Auth,
    Param((community, user)): Param<(Id, Id)>,
) -> Result<StatusCode, ApiError> {
    state.chat.kick(auth.user, community, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn bans(
    State(state): State<AppState>,
    auth: Auth,
    Param(community): Param<Id>,
    Params(page): Params<PageAfter>,
) -> Result<Json<Vec<BanView>>, ApiError> {
    let bans = state
        .chat
        .bans(auth.user, community, page.after, page.limit())
        .await?;
    Ok(Json(bans.into_iter().map(BanView::from).collect()))
}

async fn ban(
    State(state): State<AppState>,
    auth: Auth,
    Param((community, user)): Param<(Id, Id)>,
    OptionalBody(body): OptionalBody<BanBody>,
) -> Result<Json<BanView>, ApiError> {
    let ban = state
        .chat
        .ban(auth.user, community, user, body.reason)
        .await?;
    Ok(Json(ban.into()))
}

async fn unban(
    State(state): State<AppState>,
    auth: Auth,
    Param((community, user)): Param<(Id, Id)>,
) -> Result<StatusCode, ApiError> {
    if state.chat.unban(auth.user, community, user).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("ban not found"))
    }
}

async fn timeout(
    State(state): State<AppState>,
    auth: Auth,
    Param((community, user)): Param<(Id, Id)>,
    Body(body): Body<TimeoutBody>,
) -> Result<Json<Member>, ApiError> {
    let until = match (body.until, body.duration_secs) {
        (Some(until), None) => until,
        (None, Some(secs)) => chinwag_store::id::now_ms()
            .saturating_add(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of until and duration_secs",
            ));
        }
    };
    Ok(Json(
        state
            .chat
            .timeout(auth.user, community, user, until)
            .await?,
    ))
}

async fn remove_timeout(
    State(state): State<AppState>,
    auth: Auth,
    Param((community, user)): Param<(Id, Id)>,
) -> Result<StatusCode, ApiError> {
    state
        .chat
        .remove_timeout(auth.user, community, user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
