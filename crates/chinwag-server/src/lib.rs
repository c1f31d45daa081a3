//! The Chinwag server as a library: [`run`] serves a [`router`] on a
//! listener until a shutdown future resolves. The `chinwag` binary only
//! parses config and starts tracing.
//!
//! # Layout
//! - [`config`]: typed configuration with defaults (TOML file + `CHINWAG_*`).
//! - [`auth`]: JWT access tokens and the signing secret.
//! - [`error`]: [`ApiError`], one error for REST bodies and `error` frames.
//! - [`policy`]: the [`Policy`] hook: which rooms and topics a user may see.
//! - [`state`]: [`AppState`], what every handler shares.
//! - [`gateway`]: the WebSocket endpoint and the per-connection session.
//! - [`http`]: the router, health and readiness.
//! - [`server`]: [`run`] with graceful shutdown.
//! - [`token_sweeper`]: deletes long-expired refresh tokens, hourly.

pub mod accept;
pub mod auth;
pub mod config;
pub mod error;
pub mod gateway;
pub mod http;
pub mod metrics;
pub mod policy;
pub mod server;
pub mod state;
pub mod token_sweeper;

pub use config::Config;
pub use error::ApiError;
pub use http::router;
pub use policy::{OpenPolicy, Policy};
pub use server::{Server, run};
pub use state::AppState;
