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

use crate::gateway::limits::RateLimiter;
use crate::{ApiError, AppState};

/// Keys tracked before idle ones (full buckets) are forgotten.
const PRUNE_AT: usize = 10_000;

/// One token bucket per key.
#[derive(Debug)]
pub struct Buckets<K> {
    per_minute: u32,
    burst: u32,
    /// Each key's bucket, and whether its last call was refused.
    buckets: Mutex<HashMap<K, (RateLimiter, bool)>>,
}

/// What a bucket said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit.
    Allowed,
    /// Over the limit, after an allowed call: the first refusal of a run,
    /// the one worth a log line (a client retrying in a loop would
    /// otherwise write one per request).
    FirstRefusal,
    /// Over the limit again.
    Refused,
}

impl Verdict {
    /// Whether the call may go on.
    pub fn allowed(self) -> bool {
        self == Verdict::Allowed
    }
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

    /// Seconds until a refused key has a token again (at most): one
    /// token's share of a minute, rounded up.
    pub fn retry_after_secs(&self) -> u32 {
        60u32.div_ceil(self.per_minute.max(1))
    }

    /// Takes one token for `key`.
    pub fn check(&self, key: K) -> Verdict {
        if self.per_minute == 0 {
            return Verdict::Allowed;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        // Pruning scans every bucket: only when a new key arrives.
        if buckets.len() >= PRUNE_AT && !buckets.contains_key(&key) {
            buckets.retain(|_, (bucket, _)| !bucket.is_full());
        }
        let (bucket, refusing) = buckets.entry(key).or_insert_with(|| {
            let bucket = RateLimiter::per_minute(self.per_minute, self.burst);
            (bucket, false)
        });
        let was_refusing = std::mem::replace(refusing, !bucket.allow());
        match (*refusing, was_refusing) {
            (false, _) => Verdict::Allowed,
            (true, false) => Verdict::FirstRefusal,
            (true, true) => Verdict::Refused,
        }
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
    /// IPv6 clients share a bucket per /64, the block one host is usually
    /// given: one address each would let a client rotate around the limit.
    pub fn check(&self, client: Option<IpAddr>) -> Verdict {
        self.buckets.check(client.map(network_of))
    }

    /// See [`Buckets::retry_after_secs`].
    pub fn retry_after_secs(&self) -> u32 {
        self.buckets.retry_after_secs()
    }

    /// The address of the client that sent `request`: the peer's, or behind
    /// a trusted proxy the last `X-Forwarded-For` entry.
    pub fn client_of<B>(&self, request: &axum::http::Request<B>) -> Option<IpAddr> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        self.client(peer, request.headers())
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

/// The key a client address is limited under: an IPv4 address itself, an
/// IPv6 address's /64 (an IPv4-mapped one as IPv4).
fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// Middleware for the credential routes.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let client = state.throttle.client_of(&request);
    let verdict = state.throttle.check(client);
    if !verdict.allowed() {
        if verdict == Verdict::FirstRefusal {
            tracing::warn!(client = ?client, path = %request.uri().path(), "credential attempts over the limit (further refusals not logged until it is back under)");
        }
        let wait = state.throttle.retry_after_secs();
        return ApiError::rate_limited(format!("too many attempts; retry in {wait} s"), wait)
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
        assert!(throttle.check(a).allowed() && throttle.check(a).allowed());
        assert!(!throttle.check(a).allowed());
        assert!(throttle.check(b).allowed());
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
        assert!(throttle.check(a).allowed());
        assert!(Throttle::new(0, 0, false).check(a).allowed());
    }

    #[tokio::test(start_paused = true)]
    async fn ipv6_addresses_share_a_bucket_per_64() {
        let throttle = Throttle::new(60, 2, false);
        let host = |last: u16| Some(IpAddr::from([0x2001, 0xdb8, 0, 7, 0, 0, 0, last]));
        assert!(throttle.check(host(1)).allowed() && throttle.check(host(2)).allowed());
        assert!(!throttle.check(host(3)).allowed(), "same /64, same bucket");
        let next_block = Some(IpAddr::from([0x2001, 0xdb8, 0, 8, 0, 0, 0, 1]));
        assert!(throttle.check(next_block).allowed());
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(network_of(mapped), IpAddr::from([10, 0, 0, 1]));
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_first_refusal_of_a_run_is_flagged() {
        let buckets = Buckets::new(60, 1);
        assert_eq!(buckets.check(7), Verdict::Allowed);
        assert_eq!(buckets.check(7), Verdict::FirstRefusal);
        assert_eq!(buckets.check(7), Verdict::Refused);
        assert_eq!(buckets.check(7), Verdict::Refused);
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
        assert_eq!(buckets.check(7), Verdict::Allowed);
        assert_eq!(buckets.check(7), Verdict::FirstRefusal);
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
