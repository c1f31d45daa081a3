//! One task per node closes connections whose client went quiet (4009)
//! or whose token expired (4004), instead of a timer in every session: an
//! idle connection then costs no timer at all.

use std::time::Duration;

use chinwag_protocol::CloseCode;

use crate::AppState;
use crate::auth::now_ms;

/// How often the reaper looks: an eighth of the heartbeat timeout, between
/// 50 ms and 5 s (5 s with the default 45 s timeout). A connection is
/// closed at most this late. Each look touches every connection (about
/// 0.3 µs each, mostly cache misses), so it is not made more often.
pub fn period(heartbeat_timeout_ms: u64) -> Duration {
    Duration::from_millis((heartbeat_timeout_ms / 8).clamp(50, 5000))
}

/// Runs the reaper until shutdown.
pub async fn run(state: AppState) {
    let timeout_ms = state.config.gateway.heartbeat_timeout_ms;
    let mut ticks = tokio::time::interval(period(timeout_ms));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = state.shutdown.cancelled() => return,
        }
        let now = now_ms();
        let (mut expired, mut silent) = (0, 0);
        state.hub.for_each_conn(|conn| {
            if conn.expires_at_ms() <= now {
                expired += u32::from(conn.request_close(CloseCode::TokenExpired));
            } else if conn.silent_ms() >= timeout_ms {
                silent += u32::from(conn.request_close(CloseCode::HeartbeatTimeout));
            }
        });
        if expired + silent > 0 {
            tracing::info!(expired, silent, "reaping connections");
        }
    }
}
