//! A token bucket: client frames on the gateway, credential attempts on
//! REST.

use tokio::time::Instant;

/// Allows `rate` frames per second on average and bursts of `burst`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(rate_per_sec: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            rate: f64::from(rate_per_sec),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: Instant::now(),
        }
    }

    /// Allows `per_minute` on average and bursts of `burst`.
    pub fn per_minute(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            rate: f64::from(per_minute) / 60.0,
            ..RateLimiter::new(0, burst)
        }
    }

    /// Whether the bucket has refilled completely (the client is idle).
    pub fn is_full(&self) -> bool {
        let refill = Instant::now().duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens + refill >= self.burst
    }

    /// Takes a token; false when the client is over the limit.
    pub fn allow(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn bursts_then_refills() {
        let mut limiter = RateLimiter::new(10, 5);
        assert!((0..5).all(|_| limiter.allow()));
        assert!(!limiter.allow());
        tokio::time::advance(Duration::from_millis(200)).await;
        assert!(limiter.allow());
        assert!(limiter.allow());
        assert!(!limiter.allow());
    }
}
