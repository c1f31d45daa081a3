//! `/api/v1/auth/*` and `/api/v1/users/@me`: register, log in, refresh,
//! log out, and the caller's profile.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Json;
use axum::routing::{get, post};
use axum::{Router, middleware};
use chinwag_chat::Session;
use chinwag_protocol::Timestamp;
use chinwag_protocol::model::{User, UserRole};
use serde::{Deserialize, Serialize};

use super::extract::{Auth, Body};
use super::throttle;
use crate::{ApiError, AppState};

/// The routes of this area. Register, login and refresh are limited per
/// client address ([`super::throttle`]).
pub fn routes(state: &AppState) -> Router<AppState> {
    let credentials = Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            throttle::limit,
        ));
    Router::new()
        .merge(credentials)
        .route("/auth/logout", post(logout))
        .route("/users/@me", get(me).patch(super::profiles::update_me))
        .route("/users/presences", get(super::profiles::presences))
        .route("/users/{user_id}", get(super::profiles::read))
}

/// `POST /auth/register` body.
#[derive(Debug, Deserialize)]
pub struct RegisterBody {
    /// 3..=32 of `[a-z0-9_]`.
    pub username: String,
    /// 8..=256 characters.
    pub password: String,
    /// Shown name (default: the username).
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `POST /auth/login` body.
#[derive(Debug, Deserialize)]
pub struct LoginBody {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
}

/// `POST /auth/refresh` and `/auth/logout` body.
#[derive(Debug, Deserialize)]
pub struct RefreshBody {
    /// The refresh token.
    pub refresh_token: String,
}

/// A signed-in session: the user and both tokens.
#[derive(Debug, Serialize)]
pub struct SessionBody {
    /// The user.
    pub user: User,
    /// A JWT for `Authorization: Bearer` and the WebSocket.
    pub access_token: String,
    /// When the access token expires (ms).
    pub access_token_expires_at: Timestamp,
    /// Trade it at `/auth/refresh` for new tokens.
    pub refresh_token: String,
    /// When the refresh token expires (ms).
    pub refresh_token_expires_at: Timestamp,
}

impl SessionBody {
    fn new(state: &AppState, session: Session) -> SessionBody {
        let role = if session.user.bot {
            UserRole::Bot
        } else {
            UserRole::User
        };
        let (access_token, access_token_expires_at) =
            state
                .keys
                .issue(session.user.id, role, Some(session.session_id));
        SessionBody {
            user: session.user,
            access_token,
            access_token_expires_at,
            refresh_token: session.refresh_token,
            refresh_token_expires_at: session.refresh_expires_at,
        }
    }
}

async fn register(
    State(state): State<AppState>,
    Body(body): Body<RegisterBody>,
) -> Result<(StatusCode, Json<SessionBody>), ApiError> {
    let session = state
        .chat
        .register(&body.username, &body.password, body.display_name.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(SessionBody::new(&state, session))))
}

async fn login(
    State(state): State<AppState>,
    Body(body): Body<LoginBody>,
) -> Result<Json<SessionBody>, ApiError> {
    let session = state.chat.login(&body.username, &body.password).await?;
    Ok(Json(SessionBody::new(&state, session)))
}

async fn refresh(
    State(state): State<AppState>,
    Body(body): Body<RefreshBody>,
) -> Result<Json<SessionBody>, ApiError> {
    let session = state.chat.refresh(&body.refresh_token).await?;
    Ok(Json(SessionBody::new(&state, session)))
}

async fn logout(
    State(state): State<AppState>,
    Body(body): Body<RefreshBody>,
) -> Result<StatusCode, ApiError> {
    state.chat.logout(&body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(state): State<AppState>, auth: Auth) -> Result<Json<User>, ApiError> {
    Ok(Json(state.chat.user(auth.user).await?))
}
