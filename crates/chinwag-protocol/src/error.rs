//! Error codes (in `error` frames and REST bodies) and WebSocket close codes.

use serde::{Deserialize, Serialize};

/// A stable, machine-readable error code. The same code appears in REST
/// error bodies and in `error` frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The request is malformed or fails validation.
    BadRequest,
    /// A frame was not valid JSON/MessagePack or not a known command shape.
    InvalidFrame,
    /// The command `op` is not known.
    UnknownOp,
    /// No valid credentials.
    Unauthorized,
    /// The token has expired.
    TokenExpired,
    /// Authenticated, but not allowed.
    Forbidden,
    /// The resource does not exist (or is not visible to the caller).
    NotFound,
    /// HTTP only: the path exists but not with this method.
    MethodNotAllowed,
    /// The request conflicts with current state (e.g. a taken username).
    Conflict,
    /// Too many requests; slow down.
    RateLimited,
    /// A body or frame is larger than the limit.
    PayloadTooLarge,
    /// A command that needs `identify` first.
    NotIdentified,
    /// `identify` sent twice.
    AlreadyIdentified,
    /// The member is timed out and cannot send.
    TimedOut,
    /// Something failed on the server.
    Internal,
    /// A dependency (database, broker) is unavailable.
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status the REST API answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidFrame | ErrorCode::UnknownOp => 400,
            ErrorCode::Unauthorized | ErrorCode::TokenExpired => 401,
            ErrorCode::Forbidden | ErrorCode::TimedOut => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict | ErrorCode::AlreadyIdentified | ErrorCode::NotIdentified => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

/// WebSocket close codes. Codes 4000–4999 are Chinwag's; the others are
/// the standard ones (RFC 6455) used in their standard meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CloseCode {
    /// 1000: normal closure (client asked, or server is done).
    Normal = 1000,
    /// 1007: a text frame was not valid UTF-8.
    InvalidUtf8 = 1007,
    /// 1009: a frame was larger than the limit.
    FrameTooLarge = 1009,
    /// 1011: unexpected server error.
    InternalError = 1011,
    /// 4001: no `identify` within the deadline.
    IdentifyTimeout = 4001,
    /// 4002: too many invalid frames.
    InvalidFrames = 4002,
    /// 4003: the token was refused (bad signature, malformed, `alg: none`,
    /// unknown user).
    AuthFailed = 4003,
    /// 4004: the token expired (at connect, or mid-stream without `reauth`).
    TokenExpired = 4004,
    /// 4008: the client sent frames faster than the rate limit.
    RateLimited = 4008,
    /// 4009: no heartbeat within the deadline.
    HeartbeatTimeout = 4009,
    /// 4010: the client read too slowly; its outbox overflowed. Resume.
    SlowConsumer = 4010,
    /// 4011: the server is shutting down. Reconnect (elsewhere) and resume.
    ServerShutdown = 4011,
    /// 4012: the connection's session was revoked (logout, ban of account).
    SessionRevoked = 4012,
    /// 4013: the node lost membership changes (a long broker outage), so
    /// the connection's rooms must be computed again. Reconnect and resume.
    Rejoin = 4013,
}

impl CloseCode {
    /// The numeric code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// A short reason sent in the close frame.
    pub fn reason(self) -> &'static str {
        match self {
            CloseCode::Normal => "bye",
            CloseCode::InvalidUtf8 => "invalid utf-8",
            CloseCode::FrameTooLarge => "frame too large",
            CloseCode::InternalError => "internal error",
            CloseCode::IdentifyTimeout => "identify timeout",
            CloseCode::InvalidFrames => "too many invalid frames",
            CloseCode::AuthFailed => "authentication failed",
            CloseCode::TokenExpired => "token expired",
            CloseCode::RateLimited => "rate limited",
            CloseCode::HeartbeatTimeout => "heartbeat timeout",
            CloseCode::SlowConsumer => "slow consumer",
            CloseCode::ServerShutdown => "server shutting down",
            CloseCode::SessionRevoked => "session revoked",
            CloseCode::Rejoin => "rejoin",
        }
    }

    /// Whether a client should reconnect and resume after this close.
    pub fn should_resume(self) -> bool {
        matches!(
            self,
            CloseCode::SlowConsumer
                | CloseCode::ServerShutdown
                | CloseCode::Rejoin
                | CloseCode::HeartbeatTimeout
                | CloseCode::InternalError
        )
    }

    /// Looks a code up by number.
    pub fn from_code(code: u16) -> Option<CloseCode> {
        use CloseCode::*;
        [
            Normal,
            InvalidUtf8,
            FrameTooLarge,
            InternalError,
            IdentifyTimeout,
            InvalidFrames,
            AuthFailed,
            TokenExpired,
            RateLimited,
            HeartbeatTimeout,
            SlowConsumer,
            ServerShutdown,
            SessionRevoked,
            Rejoin,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }
}
