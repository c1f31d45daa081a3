//! The WebSocket gateway: `GET /ws?token=JWT&encoding=json|msgpack`.
//!
//! # Layout
//! - [`capacity`]: how many connections this node holds.
//! - [`session`]: one connection's actor: identify, the main loop, close.
//! - [`writer`]: the outgoing half: encoding, batching, per-room dedupe.
//! - [`cursor`]: where a connection stands in each room.
//! - [`commands`]: what each client command does.
//! - [`limits`]: the per-connection rate limiter.
//! - [`reaper`]: closes silent connections and expired tokens.
//! - [`rooms`]: joins and leaves the rooms the policy grants, race-free.
//! - [`ws`]: the WebSocket transport (handshake, framing, socket).

pub mod capacity;
pub mod commands;
pub mod cursor;
pub mod limits;
mod log_budget;
pub mod reaper;
pub mod rooms;
pub mod session;
pub mod writer;
pub mod ws;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use chinwag_protocol::{Encoding, ErrorCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;

use crate::http::extract::Params;
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
    Params(params): Params<WsParams>,
    mut request: Request,
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
    let handshake = match ws::upgrade::accept(&mut request) {
        Ok(handshake) => handshake,
        Err(why) => return ApiError::bad_request(why).into_response(),
    };
    let Some(slot) = state.capacity.try_take() else {
        return ApiError::new(ErrorCode::Unavailable, "this node is full; try again later")
            .into_response();
    };
    let limit = state.config.gateway.max_frame_bytes;
    let client = state.throttle.client_of(&request);
    tokio::spawn(async move {
        match handshake.upgraded.await {
            Ok(upgraded) => {
                let socket = ws::Socket::new(TokioIo::new(upgraded), limit);
                let request = session::Request {
                    token: params.token,
                    encoding,
                    client,
                };
                session::spawn(socket, state, request, slot);
            }
            Err(err) => tracing::debug!(%err, "websocket upgrade failed"),
        }
    });
    handshake.response
}
