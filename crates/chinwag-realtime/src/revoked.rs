//! Signed-out sessions, remembered on every node for as long as an access
//! token naming them could still be valid, so that such a token is refused
//! and not only the connections open at sign-out closed.
//!
//! Every node records a revocation when its [`SessionRevoked`] control
//! message arrives (the node that revokes records it before sending), and
//! a starting node [preloads](Revocations::preload) the sessions the store
//! shows signed out within a token lifetime.
//!
//! [`SessionRevoked`]: crate::engine::ControlMsg::SessionRevoked

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chinwag_protocol::Id;

use crate::conn::lock;

/// How long revocations are kept until [`Revocations::set_token_lifetime`]
/// says how long tokens live.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The revocations this node knows of.
#[derive(Debug)]
pub struct Revocations {
    lifetime_secs: AtomicU64,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// Revoked sessions, with when (seconds since the epoch).
    sessions: HashMap<Id, u64>,
    /// Users all of whose sessions were revoked, with when: their tokens
    /// issued before that are refused.
    users: HashMap<Id, u64>,
    /// When expired entries are next swept (seconds since the epoch): at
    /// most once per [`SWEEP_EVERY_SECS`], so that recording stays O(1)
    /// however many sessions sign out.
    next_sweep: u64,
}

/// How often expired revocations are swept out.
const SWEEP_EVERY_SECS: u64 = 60;

impl Default for Revocations {
    fn default() -> Self {
        Revocations {
            lifetime_secs: AtomicU64::new(DEFAULT_LIFETIME.as_secs()),
            entries: Mutex::default(),
        }
    }
}

impl Revocations {
    /// How long an access token lives at most: a revocation older than
    /// that concerns only expired tokens and is forgotten.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lifetime_secs
            .store(lifetime.as_secs().max(1), Ordering::Relaxed);
    }

    /// Records that `user`'s `session` (all of the user's when `None`) was
    /// signed out now.
    pub(crate) fn record(&self, user: Id, session: Option<Id>) {
        let now = now_secs();
        let mut entries = lock(&self.entries);
        if now >= entries.next_sweep {
            let horizon = now.saturating_sub(self.lifetime_secs.load(Ordering::Relaxed));
            entries.sessions.retain(|_, at| *at >= horizon);
            entries.users.retain(|_, at| *at >= horizon);
            entries.next_sweep = now + SWEEP_EVERY_SECS;
        }
        match session {
            Some(session) => {
                entries.sessions.insert(session, now);
            }
            None => {
                entries.users.insert(user, now);
            }
        }
    }

    /// Adds sessions signed out before this node started (read from the
    /// store), each with when, in seconds since the epoch.
    pub fn preload(&self, sessions: impl IntoIterator<Item = (Id, u64)>) {
        let mut entries = lock(&self.entries);
        for (session, at) in sessions {
            let kept = entries.sessions.entry(session).or_insert(at);
            *kept = (*kept).max(at);
        }
    }

    /// Whether a token of `user` naming `session`, issued at
    /// `issued_at_secs`, belongs to a signed-out session.
    pub fn is_revoked(&self, user: Id, session: Option<Id>, issued_at_secs: u64) -> bool {
        let entries = lock(&self.entries);
        session.is_some_and(|s| entries.sessions.contains_key(&s))
            || entries
                .users
                .get(&user)
                .is_some_and(|at| issued_at_secs < *at)
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoked_session_is_refused_and_others_are_not() {
        let revocations = Revocations::default();
        revocations.record(Id(1), Some(Id(10)));
        let now = now_secs();
        assert!(revocations.is_revoked(Id(1), Some(Id(10)), now));
        assert!(!revocations.is_revoked(Id(1), Some(Id(11)), now));
        assert!(!revocations.is_revoked(Id(1), None, now));
    }

    #[test]
    fn revoking_a_user_refuses_tokens_issued_before() {
        let revocations = Revocations::default();
        revocations.record(Id(1), None);
        let now = now_secs();
        assert!(revocations.is_revoked(Id(1), Some(Id(10)), now - 5));
        assert!(revocations.is_revoked(Id(1), None, now - 5));
        assert!(!revocations.is_revoked(Id(1), Some(Id(10)), now + 1));
        assert!(!revocations.is_revoked(Id(2), None, now - 5));
    }

    #[test]
    fn preloaded_sessions_are_refused() {
        let revocations = Revocations::default();
        revocations.preload([(Id(10), now_secs() - 30)]);
        assert!(revocations.is_revoked(Id(1), Some(Id(10)), now_secs() - 60));
        assert!(!revocations.is_revoked(Id(1), Some(Id(11)), now_secs() - 60));
    }

    #[test]
    fn revocations_older_than_a_token_lifetime_are_forgotten() {
        let revocations = Revocations::default();
        revocations.set_token_lifetime(Duration::from_secs(60));
        lock(&revocations.entries)
            .sessions
            .insert(Id(10), now_secs() - 120);
        revocations.record(Id(2), Some(Id(20)));
        let entries = lock(&revocations.entries);
        assert!(!entries.sessions.contains_key(&Id(10)));
        assert!(entries.sessions.contains_key(&Id(20)));
    }
}
