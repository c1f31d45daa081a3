//! DMs: `GET /dms` (mine, paged), `POST /dms` (open a one-to-one DM with
//! `recipient_id`, or create a group DM with `recipient_ids`) and
//! `DELETE /users/@me/dms/{id}` (leave a group DM).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get};
use chinwag_protocol::Id;
use chinwag_protocol::model::Channel;
use serde::Deserialize;

use super::extract::{Auth, Body, Param, Params};
use crate::{ApiError, AppState};

/// The routes of this area.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dms", get(list).post(open))
        .route("/users/@me/dms/{channel_id}", delete(leave))
}

async fn leave(
    State(state): State<AppState>,
    auth: Auth,
    Param(id): Param<Id>,
) -> Result<StatusCode, ApiError> {
    state.chat.leave_group_dm(auth.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /dms` body: exactly one of `recipient_id` and `recipient_ids`.
#[derive(Debug, Deserialize)]
pub struct OpenBody {
    /// The other user of a one-to-one DM.
    #[serde(default)]
    pub recipient_id: Option<Id>,
    /// The other users of a group DM (1..=9).
    #[serde(default)]
    pub recipient_ids: Option<Vec<Id>>,
    /// A group DM's name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `GET /dms` query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// The cursor of the page: the `before` of the previous page's `Link`.
    #[serde(default)]
    pub before: Option<Id>,
    /// Page size, 1..=100 (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A page of the caller's DMs; when the page is full, a `Link` header
/// (`rel="next"`) gives the next one's address.
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit.unwrap_or(100);
    let page = state.chat.my_dms(auth.user, query.before, limit).await?;
    let mut response = Json(page.channels).into_response();
    if let Some(next) = page.next {
        let link = format!("</api/v1/dms?before={next}&limit={limit}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

async fn open(
    State(state): State<AppState>,
    auth: Auth,
    Body(body): Body<OpenBody>,
) -> Result<Json<Channel>, ApiError> {
    let channel = match (body.recipient_id, body.recipient_ids) {
        (Some(other), None) => state.chat.open_dm(auth.user, other).await?,
        (None, Some(others)) => {
            state
                .chat
                .create_group_dm(auth.user, &others, body.name.as_deref())
                .await?
        }
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of recipient_id and recipient_ids",
            ));
        }
    };
    Ok(Json(channel))
}
