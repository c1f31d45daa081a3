//! Per-client-IP limits on the credential routes (register, login,
//! refresh): password guessing and mass registration cost a token bucket
//! per address, and over it the answer is `429 RATE_LIMITED`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chinwag_protocol::ErrorCode;

use crate::gateway::limits::RateLimiter;
use crate::{ApiError, AppState};

/// Addresses tracked before idle ones (full buckets) are forgotten.
const PRUNE_AT: usize = 10_000;

/// One token bucket per client address.
#[derive(Debug)]
pub struct Throttle {
    per_minute: u32,
    burst: u32,
    trust_forwarded_for: bool,
    buckets: Mutex<HashMap<Option<IpAddr>, RateLimiter>>,
}

impl Throttle {
    /// `per_minute` attempts per address on average (0: no limit), bursts
    /// of `burst`. With `trust_forwarded_for`, the address is the one the
    /// proxy in front appended to `X-Forwarded-For`.
    pub fn new(per_minute: u32, burst: u32, trust_forwarded_for: bool) -> Throttle {
        Throttle {
            per_minute,
            burst,
            trust_forwarded_for,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt for `client`; false when it is over the limit.
    pub fn allow(&self, client: Option<IpAddr>) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        // Pruning scans every bucket: only when a new address arrives.
        if buckets.len() >= PRUNE_AT && !buckets.contains_key(&client) {
            buckets.retain(|_, bucket| !bucket.is_full());
        }
        buckets
            .entry(client)
            .or_insert_with(|| RateLimiter::per_minute(self.per_minute, self.burst))
            .allow()
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
