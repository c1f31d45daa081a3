//! Request limits, a token bucket per key:
//! - per client address on the credential routes (register, login,
//!   refresh), so password guessing and mass registration are slowed;
//! - per user on every authenticated write (`POST`, `PUT`, `PATCH`,
//!   `DELETE`), checked by the [`Auth`](super::extract::Auth) extractor.
//!
//! Over a limit the answer is `429 RATE_LIMITED`.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chinwag_protocol::ErrorCode;

use crate::gateway::limits::RateLimiter;
use crate::{ApiError, AppState};

/// Keys tracked before idle ones (full buckets) are forgotten.
const PRUNE_AT: usize = 10_000;

/// One token bucket per key.
#[derive(Debug)]
pub struct Buckets<K> {
    per_minute: u32,
    burst: u32,
    buckets: Mutex<HashMap<K, RateLimiter>>,
}

impl<K: Hash + Eq> Buckets<K> {
    /// `per_minute` per key on average (0: no limit), bursts of `burst`.
    pub fn new(per_minute: u32, burst: u32) -> Buckets<K> {
        Buckets {
            per_minute,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; false when it is over the limit.
    pub fn allow(&self, key: K) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        // Pruning scans every bucket: only when a new key arrives.
        if buckets.len() >= PRUNE_AT && !buckets.contains_key(&key) {
            buckets.retain(|_, bucket| !bucket.is_full());
        }
        buckets
            .entry(key)
            .or_insert_with(|| RateLimiter::per_minute(self.per_minute, self.burst))
            .allow()
    }
}

/// The credential routes' limit: one bucket per client address.
#[derive(Debug)]
pub struct Throttle {
    trust_forwarded_for: bool,
    buckets: Buckets<Option<IpAddr>>,
}

impl Throttle {
    /// `per_minute` attempts per address on average (0: no limit), bursts
    /// of `burst`. With `trust_forwarded_for`, the address is the one the
    /// proxy in front appended to `X-Forwarded-For`.
    pub fn new(per_minute: u32, burst: u32, trust_forwarded_for: bool) -> Throttle {
        Throttle {
            trust_forwarded_for,
            buckets: Buckets::new(per_minute, burst),
        }
    }

    /// Takes one attempt for `client`; false when it is over the limit.
    pub fn allow(&self, client: Option<IpAddr>) -> bool {
        self.buckets.allow(client)
    }

    /// The client's address: the peer's, or behind a trusted proxy the
    /// last `X-Forwarded-For` entry (the one that proxy added).
    fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let forwarded = || {
            let header = headers.get_all("x-forwarded-for").iter().next_back()?;
            header
                .to_str()
                .ok()?
                .rsplit(',')
                .next()?
                .trim()
                .parse()
                .ok()
        };
        match self.trust_forwarded_for {
            true => forwarded().or(peer.map(|p| p.ip())),
            false => peer.map(|p| p.ip()),
        }
    }
}

/// Middleware for the credential routes.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let client = state.throttle.client(peer, request.headers());
    if !state.throttle.allow(client) {
        tracing::warn!(client = ?client, path = %request.uri().path(), "credential attempts over the limit");
        return ApiError::new(
            ErrorCode::RateLimited,
            "too many attempts; retry in a minute",
        )
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_address_has_its_own_bucket() {
        let throttle = Throttle::new(60, 2, false);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        assert!(throttle.allow(a) && throttle.allow(a));
        assert!(!throttle.allow(a));
        assert!(throttle.allow(b));
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
        assert!(throttle.allow(a));
        assert!(Throttle::new(0, 0, false).allow(a));
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let peer = Some(SocketAddr::from(([127, 0, 0, 1], 4000)));
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.9".parse().unwrap());
        let proxy = IpAddr::from([127, 0, 0, 1]);
        let client = IpAddr::from([203, 0, 113, 9]);
        assert_eq!(
            Throttle::new(1, 1, false).client(peer, &headers),
            Some(proxy)
        );
        assert_eq!(
            Throttle::new(1, 1, true).client(peer, &headers),
            Some(client)
        );
        assert_eq!(
            Throttle::new(1, 1, true).client(peer, &HeaderMap::new()),
            Some(proxy)
        );
    }
}
