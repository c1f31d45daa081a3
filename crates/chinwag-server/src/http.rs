//! The HTTP router: the WebSocket endpoint, health and readiness.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use serde_json::json;

use crate::AppState;
use crate::gateway::ws_handler;

/// The full router for a state.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/ws", get(ws_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Liveness: the process answers.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    Json(json!({"status": "ok", "node": state.hub.node().name()}))
}

/// Readiness: not shutting down.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    use chinwag_realtime::Engine;
    let ready = !state.shutdown.is_cancelled();
    let status = if ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "ready": ready,
            "node": state.hub.node().name(),
            "engine": state.hub.engine().name(),
            "connections": state.hub.local().conns().len(),
        })),
    )
}
