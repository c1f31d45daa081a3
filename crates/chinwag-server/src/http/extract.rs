//! Request extractors that answer failures with [`ApiError`] JSON bodies:
//! the Bearer-token [`Auth`], [`Body`] (JSON), [`Param`] (path) and
//! [`Params`] (query string), and the [`ChatError`] → [`ApiError`] mapping.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use chinwag_chat::ChatError;
use chinwag_protocol::{ErrorCode, Id};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

impl From<ChatError> for ApiError {
    fn from(err: ChatError) -> Self {
        if err.is_internal() {
            ApiError::internal(err)
        } else if err.code() == ErrorCode::Unavailable {
            tracing::warn!(%err, "answering UNAVAILABLE");
            ApiError::new(
                ErrorCode::Unavailable,
                "the database is unavailable; try again shortly",
            )
        } else {
            ApiError::new(err.code(), err.to_string())
        }
    }
}

/// The caller, from `Authorization: Bearer <access token>`. A write
/// (anything but `GET`, `HEAD` and `OPTIONS`) also takes one token from
/// the user's write bucket ([`AppState::take_write`]).
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
        if ![Method::GET, Method::HEAD, Method::OPTIONS].contains(&parts.method) {
            state.take_write(who.user_id, parts.uri.path())?;
        }
        Ok(Auth {
            user: who.user_id,
            session: who.session,
        })
    }
}

/// A JSON request body: an object (a JSON array or scalar is refused even
/// where serde would read a struct from a sequence). Malformed JSON, wrong
/// fields or a NUL character (`\u0000`) anywhere in it are `BAD_REQUEST`;
/// a body over the limit is `PAYLOAD_TOO_LARGE`.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::bad_request(
                "expected `Content-Type: application/json`",
            ));
        }
        json_object(&body_bytes(req, state).await?).map(Body)
    }
}

/// Like [`Body`] where the body may be left out: no body at all reads as
/// `T::default()`; one that is sent is checked as [`Body`] checks it.
#[derive(Debug, Clone)]
pub struct OptionalBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = json_content_type(req.headers());
        let bytes = body_bytes(req, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalBody(T::default()));
        }
        if !json {
            return Err(ApiError::bad_request(
                "expected `Content-Type: application/json`",
            ));
        }
        json_object(&bytes).map(OptionalBody)
    }
}

/// The whole body, with the JSON errors of the API: `PAYLOAD_TOO_LARGE`
/// over the limit, `BAD_REQUEST` when it cannot be read.
async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large")
        } else {
            ApiError::bad_request(format!("invalid body: {}", rejection.body_text()))
        }
    })
}

/// Decodes a JSON object body: `BAD_REQUEST` unless it is an object, or if
/// any string in it holds a NUL character (which PostgreSQL cannot store
/// in text, so no backend accepts it). The NUL check is one byte scan of
/// the raw body, not a second parse.
pub fn json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{') {
        return Err(ApiError::bad_request(
            "invalid JSON body: expected a JSON object",
        ));
    }
    if has_escaped_nul(bytes) {
        return Err(ApiError::bad_request(
            "text must not contain NUL characters (\\u0000)",
        ));
    }
    match axum::Json::<T>::from_bytes(bytes) {
        Ok(axum::Json(value)) => Ok(value),
        Err(rejection) => Err(ApiError::bad_request(format!(
            "invalid JSON body: {}",
            rejection.body_text()
        ))),
    }
}

/// Whether JSON text holds the escape `\u0000` (a raw NUL is not valid
/// JSON, so this is the only way one gets in). A backslash that is itself
/// escaped (`\\u0000` in the JSON text, a backslash and `u0000`) does
/// not count.
fn has_escaped_nul(json: &[u8]) -> bool {
    const ESCAPE: &[u8] = b"\\u0000";
    let mut from = 0;
    while let Some(at) = json[from..]
        .windows(ESCAPE.len())
        .position(|w| w == ESCAPE)
        .map(|i| from + i)
    {
        // The escape counts if the backslashes before it, itself
        // included, are odd in number.
        let run = json[..=at]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if run % 2 == 1 {
            return true;
        }
        from = at + 1;
    }
    false
}

/// `application/json` or `application/*+json`, as `axum::Json` accepts.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || sub.len() > 5 && sub[sub.len() - 5..].eq_ignore_ascii_case("+json"))
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

/// The query of a list paged by id (members, bans): `?after=&limit=`.
#[derive(Debug, Deserialize)]
pub struct PageAfter {
    /// Items of larger ids than this.
    #[serde(default)]
    pub after: Option<Id>,
    /// Page size, 1..=100 (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

impl PageAfter {
    /// The page size asked for, or the default 100.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(100)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_nul_is_found_but_an_escaped_backslash_is_not() {
        assert!(has_escaped_nul(br#"{"a":"x\u0000"}"#));
        assert!(has_escaped_nul(br#"{"a":"\\\u0000"}"#));
        assert!(!has_escaped_nul(br#"{"a":"\\u0000"}"#));
        assert!(!has_escaped_nul(br#"{"a":"\\\\u0000 \u0001"}"#));
        assert!(!has_escaped_nul(b"{}"));
    }

    #[test]
    fn only_objects_are_bodies() {
        #[derive(Debug, serde::Deserialize)]
        struct Pair {
            #[allow(dead_code)]
            a: String,
        }
        assert!(json_object::<Pair>(br#" {"a":"x"}"#).is_ok());
        assert!(json_object::<Pair>(br#"["x"]"#).is_err());
        assert!(json_object::<Pair>(br#"{"a":"x\u0000"}"#).is_err());
    }
}
