//! [`ApiError`]: one error type for REST responses and `error` frames.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chinwag_protocol::ErrorCode;
use chinwag_protocol::server::ErrorFrame;
use serde::Serialize;

/// An error with a stable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// The code.
    pub code: ErrorCode,
    /// The detail.
    pub message: String,
    /// Seconds the client should wait before retrying, sent as the
    /// `Retry-After` header (rate limits).
    pub retry_after_secs: Option<u32>,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// `RATE_LIMITED`, retry in `secs` (the `Retry-After` header).
    pub fn rate_limited(message: impl Into<String>, secs: u32) -> ApiError {
        ApiError {
            retry_after_secs: Some(secs),
            ..Self::new(ErrorCode::RateLimited, message)
        }
    }

    /// `BAD_REQUEST`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// `FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::NotFound, message)
    }

    /// `UNAUTHORIZED`.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// `INTERNAL`, logging the cause (which is not shown to the client).
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// The `error` frame for this error.
    pub fn frame(&self, nonce: Option<String>) -> ErrorFrame {
        ErrorFrame {
            code: self.code,
            message: self.message.clone(),
            nonce,
        }
    }
}

impl From<crate::auth::TokenError> for ApiError {
    /// `TOKEN_EXPIRED` for an expired token; `UNAUTHORIZED` otherwise.
    fn from(err: crate::auth::TokenError) -> Self {
        match err {
            crate::auth::TokenError::Expired => {
                ApiError::new(ErrorCode::TokenExpired, err.to_string())
            }
            _ => ApiError::unauthorized(err.to_string()),
        }
    }
}

impl From<chinwag_realtime::HubError> for ApiError {
    fn from(err: chinwag_realtime::HubError) -> Self {
        match err {
            chinwag_realtime::HubError::InvalidRoom(_) => ApiError::bad_request(err.to_string()),
            chinwag_realtime::HubError::UnknownConn => ApiError::not_found(err.to_string()),
            other => ApiError::internal(other),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: ErrorCode,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}
