//! Request extractors that answer failures with [`ApiError`] JSON bodies:
//! the Bearer-token [`Auth`], [`Body`] (JSON), [`Param`] (path) and
//! [`Params`] (query string), and the [`ChatError`] → [`ApiError`] mapping.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use chinwag_chat::ChatError;
use chinwag_protocol::{ErrorCode, Id};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

impl From<ChatError> for ApiError {
    fn from(err: ChatError) -> Self {
        if err.is_internal() {
            ApiError::internal(err)
        } else {
            ApiError::new(err.code(), err.to_string())
        }
    }
}

/// The caller, from `Authorization: Bearer <access token>`. A write
/// (anything but `GET`, `HEAD` and `OPTIONS`) also takes one token from
/// the user's write bucket (`auth.writes_per_minute`).
#[derive(Debug, Clone, Copy)]
pub struct Auth {
    /// The authenticated user.
    pub user: Id,
    /// The sign-in session the token names, if any.
    pub session: Option<Id>,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("missing Authorization header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <token>`"))?;
        let who = state.verify_token(token.trim())?;
        let reads = [Method::GET, Method::HEAD, Method::OPTIONS];
        if !reads.contains(&parts.method) && !state.writes.allow(who.user_id) {
            tracing::warn!(user = %who.user_id, path = %parts.uri.path(), "REST writes over the limit");
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                "too many writes; slow down",
            ));
        }
        Ok(Auth {
            user: who.user_id,
            session: who.session,
        })
    }
}

/// A JSON request body. Malformed JSON or wrong fields are
/// `BAD_REQUEST`; a body over the limit is `PAYLOAD_TOO_LARGE`.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large");
    }
    let message = match &rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "expected `Content-Type: application/json`".to_string()
        }
        other => format!("invalid JSON body: {}", other.body_text()),
    };
    ApiError::bad_request(message)
}

/// A path parameter; a malformed one (e.g. an id that is not a number)
/// is `BAD_REQUEST`.
#[derive(Debug, Clone)]
pub struct Param<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Param<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Param(value)),
            Err(rejection) => Err(ApiError::bad_request(format!(
                "invalid path: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// A query string; malformed parameters are `BAD_REQUEST`.
#[derive(Debug, Clone)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError::bad_request(format!(
                "invalid query: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// For `PATCH` bodies: tells an absent field (`None`) from an explicit
/// `null` (`Some(None)`). Use with `#[serde(default, deserialize_with)]`.
pub fn nullable<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}
