//! Voice grace period: when a connection ends, a [`VoiceReaper`] waits the
//! presence grace period (plus a margin, so presence has settled) and takes
//! the user out of voice if they have no connection left anywhere
//! (presence `offline`) and none on this node.

use std::time::Duration;

use chinwag_chat::voice::VoiceReaper;
use chinwag_protocol::Id;
use chinwag_protocol::model::PresenceStatus;

use crate::AppState;

/// Added to the presence grace period before the check.
pub const MARGIN: Duration = Duration::from_millis(500);

/// Called when one of `user`'s connections closes.
pub fn connection_ended(state: &AppState, user: Id) {
    let grace = Duration::from_millis(state.config.presence.offline_grace_ms) + MARGIN;
    let check = state.clone();
    let reaper = VoiceReaper::new(state.chat.clone(), grace, move |user| {
        let state = check.clone();
        Box::pin(async move {
            if !state.hub.local().user_conns(user).is_empty() {
                return true;
            }
            match state.presence.current(user).await {
                Ok(p) => p.status != PresenceStatus::Offline,
                Err(_) => true,
            }
        })
    });
    reaper.connection_ended(user);
}
