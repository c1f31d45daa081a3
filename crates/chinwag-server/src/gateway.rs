//! The WebSocket gateway: `GET /ws?token=JWT&encoding=json|msgpack`.
//!
//! # Layout
//! - [`session`]: one connection's actor: identify, the main loop, close.
//! - [`writer`]: the outgoing half: encoding, batching, per-room dedupe.
//! - [`commands`]: what each client command does.
//! - [`limits`]: the per-connection rate limiter.

pub mod commands;
pub mod limits;
pub mod session;
pub mod writer;

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use chinwag_protocol::{Encoding, ErrorCode};
use serde::Deserialize;

use crate::{ApiError, AppState};

/// Query parameters of the WebSocket endpoint.
#[derive(Debug, Default, Deserialize)]
pub struct WsParams {
    /// An access token, instead of sending `identify`.
    pub token: Option<String>,
    /// `json` (default) or `msgpack`.
    pub encoding: Option<String>,
}

/// Upgrades to a WebSocket and runs a [`session`].
pub async fn ws_handler(
    State(state): State<AppState>,
    Query(params): Query<WsParams>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let encoding = match params.encoding.as_deref() {
        None => Encoding::Json,
        Some(value) => match Encoding::from_param(value) {
            Some(encoding) => encoding,
            None => {
                return ApiError::bad_request("encoding must be json or msgpack").into_response();
            }
        },
    };
    if state.shutdown.is_cancelled() {
        return ApiError::new(ErrorCode::Unavailable, "shutting down").into_response();
    }
    let limit = state.config.gateway.max_frame_bytes;
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(512)
        .on_upgrade(move |socket| {
            session::spawn(socket, state, params.token, encoding);
            std::future::ready(())
        })
}
