//! Test support shared by every crate's integration tests: which real
//! backends a run uses, and a seeded random generator ([`Rng`]).
//!
//! The rule (also in `README.md`):
//! - a backend test runs when its variable names the service
//!   (`CHINWAG_TEST_POSTGRES_URL`, `CHINWAG_TEST_REDIS_URL`,
//!   `CHINWAG_TEST_NATS_URL`);
//! - with `CI=true` the default local address is used when the variable is
//!   unset, and a service that cannot be reached fails the test;
//! - otherwise (a laptop without the services) the test is skipped with a
//!   message, and the embedded backends still run.
//!
//! # Layout
//! - [`Backend`]: the three external services and their addresses.

/// An external service a test may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// Redis.
    Redis,
    /// NATS with JetStream.
    Nats,
}

impl Backend {
    /// The variable that names the service's URL.
    pub fn env_var(self) -> &'static str {
        match self {
            Backend::Postgres => "CHINWAG_TEST_POSTGRES_URL",
            Backend::Redis => "CHINWAG_TEST_REDIS_URL",
            Backend::Nats => "CHINWAG_TEST_NATS_URL",
        }
    }

    /// The address of this machine's service, used in CI by default.
    pub fn default_url(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres://postgres@127.0.0.1:5432/test",
            Backend::Redis => "redis://127.0.0.1:6379",
            Backend::Nats => "nats://127.0.0.1:4222",
        }
    }

    /// Whether this run must use the real service (it was named, or CI).
    pub fn required(self) -> bool {
        std::env::var_os(self.env_var()).is_some() || in_ci()
    }

    /// The URL to test against, or `None` (after saying so on stderr) when
    /// this run skips the backend. Callers that get a URL must fail, not
    /// skip, when the service cannot be reached.
    pub fn url(self) -> Option<String> {
        if let Ok(url) = std::env::var(self.env_var()) {
            return Some(url);
        }
        if in_ci() {
            return Some(self.default_url().to_string());
        }
        eprintln!(
            "skipping {self:?} test: set {} (or CI=true) to run it",
            self.env_var()
        );
        None
    }
}

/// Whether this is a CI run (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A small deterministic generator (xorshift64*) for seeded random tests:
/// a failure names its seed, and the seed replays it.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The generator for `seed` (any value but 0).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}
