//! One task per node deletes refresh tokens long expired, so the table
//! holds the live sessions and not every token ever issued (a client that
//! refreshes every 15 minutes adds about a hundred rows a day).
//!
//! A token is kept for an access token's lifetime past its own expiry: an
//! access token issued by the last refresh may live that long, and its
//! session's sign-out must stay readable by a starting node
//! ([`chinwag_store::Store::signed_out_sessions`]) until then. Every node
//! runs the sweep; the deletes are idempotent.

use std::time::Duration;

use crate::AppState;
use crate::auth::now_ms;

/// How often the sweep runs (the first time at start).
pub const PERIOD: Duration = Duration::from_secs(3600);

/// Runs the sweep every [`PERIOD`] until shutdown.
pub async fn run(state: AppState) {
    let mut ticks = tokio::time::interval(PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = state.shutdown.cancelled() => return,
        }
        sweep(&state).await;
    }
}

/// Deletes the refresh tokens that expired more than an access token's
/// lifetime ago, and logs what it did.
async fn sweep(state: &AppState) {
    let keep_ms =
        i64::try_from(state.config.auth.access_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let cutoff = now_ms().saturating_sub(keep_ms);
    match state.chat.store().prune_refresh_tokens(cutoff).await {
        Ok(0) => tracing::debug!("no expired refresh tokens to delete"),
        Ok(deleted) => tracing::info!(deleted, "expired refresh tokens deleted"),
        Err(err) => {
            tracing::warn!(%err, "deleting expired refresh tokens failed; next try in an hour")
        }
    }
}
