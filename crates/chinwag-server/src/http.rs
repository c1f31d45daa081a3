//! The HTTP router: the REST API under `/api/v1`, the WebSocket endpoint,
//! health, readiness and metrics ([`crate::metrics`]).
//!
//! Every HTTP error, including an unknown path (404) and a known path with
//! the wrong method (405), is a JSON body `{"error": {"code", "message"}}` (see
//! [`ApiError`]); request bodies are limited to
//! [`MAX_BODY_BYTES`]. The API is described by `docs/openapi.json`, served
//! at `GET /api/v1/openapi.json`.
//!
//! # Layout
//! - [`extract`]: Bearer-token auth, JSON body, path and query extractors.
//! - [`auth`]: register, login, refresh, logout, `users/@me`.
//! - [`communities`]: communities and their members.
//! - [`invites`]: invites, previews, joining.
//! - [`channels`]: channels, ordering, private channel members.
//! - [`messages`]: history, send, edit, delete.
//! - [`dms`]: direct messages.
//! - [`roles`]: roles, assignments, permissions, channel overrides.
//! - [`moderation`]: kick, ban, unban, timeouts.
//! - [`reactions`]: reactions and pins.
//! - [`notifications`]: read receipts and notifications.
//! - [`profiles`]: profile updates.
//! - [`voice`]: voice presence state.

pub mod auth;
pub mod channels;
pub mod communities;
pub mod dms;
pub mod extract;
pub mod invites;
pub mod messages;
pub mod moderation;
pub mod notifications;
pub mod profiles;
pub mod reactions;
pub mod roles;
pub mod throttle;
pub mod voice;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use serde_json::json;

use crate::gateway::ws_handler;
use crate::{ApiError, AppState};

/// The largest accepted REST request body: 64 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The OpenAPI 3.1 description of the REST API.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

/// The full router for a state.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/ws", get(ws_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if state.config.metrics {
        router = router.route("/metrics", get(crate::metrics::metrics));
    }
    router
        .nest("/api/v1", api(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::count_responses,
        ))
        .with_state(state)
}

/// The REST API, to be nested under `/api/v1`.
pub fn api(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .merge(auth::routes(state))
        .merge(communities::routes())
        .merge(invites::routes())
        .merge(channels::routes())
        .merge(messages::routes())
        .merge(dms::routes())
        .merge(roles::routes())
        .merge(moderation::routes())
        .merge(reactions::routes())
        .merge(notifications::routes())
        .merge(voice::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// A known path with another method: 405 `METHOD_NOT_ALLOWED` (axum adds
/// the `Allow` header).
async fn method_not_allowed() -> ApiError {
    ApiError::new(
        chinwag_protocol::ErrorCode::MethodNotAllowed,
        "method not allowed on this path",
    )
}

/// Liveness: the process answers.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    Json(json!({"status": "ok", "node": state.hub.node().name()}))
}

/// How long each readiness check may take.
const READY_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness: not shutting down, and the database and the engine each
/// answer within [`READY_CHECK`] (a stream head read through the engine).
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    use chinwag_realtime::Engine;
    let probe_room = chinwag_realtime::RoomId::user(chinwag_protocol::Id(0));
    let (database, engine) = tokio::join!(
        tokio::time::timeout(READY_CHECK, state.chat.store().ping()),
        tokio::time::timeout(READY_CHECK, state.hub.head(&probe_room)),
    );
    let database_ok = matches!(database, Ok(Ok(())));
    let engine_ok = matches!(engine, Ok(Ok(_)));
    if !database_ok || !engine_ok {
        tracing::warn!(database_ok, engine_ok, "not ready");
    }
    let ready = !state.shutdown.is_cancelled() && database_ok && engine_ok;
    let status = if ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "database_ok": database_ok,
            "engine_ok": engine_ok,
            "ready": ready,
            "node": state.hub.node().name(),
            "engine": state.hub.engine().name(),
            "connections": state.hub.local().conn_count(),
            "max_connections": state.capacity.max(),
        })),
    )
}
