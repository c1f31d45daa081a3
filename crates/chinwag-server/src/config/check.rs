//! Refusing settings that would start a broken server: values out of
//! range, and keys in a config file that are no setting (a typo would
//! otherwise be ignored and the default used); and finding the `CHINWAG_*`
//! variables that are no setting, which the server warns about.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};

use super::{Config, ENV_PREFIX};

/// The longest token lifetime accepted: ten years, in seconds.
const MAX_TTL_SECS: u64 = 10 * 365 * 24 * 3600;
/// The longest offline grace accepted: one hour (shutdown waits for it).
const MAX_OFFLINE_GRACE_MS: u64 = 3_600_000;
/// The smallest frame limit accepted: an `identify` with a token fits.
const MIN_FRAME_BYTES: usize = 1024;

impl Config {
    /// Checks the values; the error lists every setting out of range.
    pub fn check(&self) -> Result<(), String> {
        let g = &self.gateway;
        let rules = [
            (
                g.max_frame_bytes >= MIN_FRAME_BYTES,
                format!("gateway.max_frame_bytes must be at least {MIN_FRAME_BYTES}"),
            ),
            (
                g.outbox_capacity > 0 && g.outbox_ephemeral_headroom < g.outbox_capacity,
                "gateway.outbox_capacity must be above 0 and above gateway.outbox_ephemeral_headroom".into(),
            ),
            (
                g.heartbeat_interval_ms > 0 && g.heartbeat_timeout_ms > g.heartbeat_interval_ms,
                "gateway.heartbeat_timeout_ms must be above gateway.heartbeat_interval_ms, which must be above 0".into(),
            ),
            (
                g.identify_timeout_ms > 0,
                "gateway.identify_timeout_ms must be above 0".into(),
            ),
            (
                g.rate_per_sec > 0 && g.rate_burst > 0,
                "gateway.rate_per_sec and gateway.rate_burst must be above 0".into(),
            ),
            (
                g.write_batch > 0 && g.max_invalid_frames > 0 && g.max_connections_per_user > 0,
                "gateway.write_batch, gateway.max_invalid_frames and \
                 gateway.max_connections_per_user must be above 0"
                    .into(),
            ),
            (
                (1..=MAX_TTL_SECS).contains(&self.auth.access_ttl_secs)
                    && (1..=MAX_TTL_SECS).contains(&self.auth.refresh_ttl_secs),
                format!("auth.access_ttl_secs and auth.refresh_ttl_secs must be 1..={MAX_TTL_SECS}"),
            ),
            (
                self.presence.offline_grace_ms <= MAX_OFFLINE_GRACE_MS,
                format!("presence.offline_grace_ms must be at most {MAX_OFFLINE_GRACE_MS}"),
            ),
            (
                self.database_max_connections > 0,
                "database_max_connections must be above 0".into(),
            ),
        ];
        let broken: Vec<String> = rules
            .into_iter()
            .filter(|(ok, _)| !ok)
            .map(|(_, why)| why)
            .collect();
        match broken.is_empty() {
            true => Ok(()),
            false => Err(broken.join("; ")),
        }
    }

    /// The keys in the TOML file at `path` that are no setting, as dotted
    /// paths (`gateway.max_frame_byte`).
    pub fn unknown_keys_in(path: &Path) -> Result<Vec<String>, Box<figment::Error>> {
        let given: Dict = Figment::from(Toml::file_exact(path)).extract()?;
        let mut unknown = Vec::new();
        collect_unknown("", &given, &known_keys()?, &mut unknown);
        Ok(unknown)
    }

    /// The `CHINWAG_*` variables in the environment that name no setting
    /// (`CHINWAG_GATEWAY__MAX_FRAME_BYTE`). The test suites' and the bench's
    /// own variables (`CHINWAG_TEST_*`, `CHINWAG_BENCH_*`) are not settings
    /// and are left out.
    pub fn unknown_env_vars() -> Result<Vec<String>, Box<figment::Error>> {
        let settings = Env::prefixed(ENV_PREFIX).split("__").filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            !key.starts_with("test_") && !key.starts_with("bench_")
        });
        let given: Dict = Figment::from(settings).extract()?;
        let mut unknown = Vec::new();
        collect_unknown("", &given, &known_keys()?, &mut unknown);
        Ok(unknown
            .into_iter()
            .map(|path| format!("{ENV_PREFIX}{}", path.replace('.', "__").to_uppercase()))
            .collect())
    }
}

/// Every setting, as nested dictionaries of their defaults.
fn known_keys() -> Result<Dict, Box<figment::Error>> {
    Ok(Figment::from(Serialized::defaults(Config::default())).extract()?)
}

/// Adds to `out` the keys of `given` missing from `known`, descending into
/// tables both have.
fn collect_unknown(prefix: &str, given: &Dict, known: &Dict, out: &mut Vec<String>) {
    for (key, value) in given {
        let path = format!("{prefix}{key}");
        match (value, known.get(key)) {
            (_, None) => out.push(path),
            (Value::Dict(_, inner), Some(Value::Dict(_, known_inner))) => {
                collect_unknown(&format!("{path}."), inner, known_inner, out);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass_and_broken_values_are_named() {
        assert_eq!(Config::default().check(), Ok(()));
        let mut config = Config::default();
        config.gateway.outbox_capacity = 0;
        config.auth.access_ttl_secs = u64::MAX;
        let err = config.check().unwrap_err();
        assert!(err.contains("gateway.outbox_capacity"), "{err}");
        assert!(err.contains("auth.access_ttl_secs"), "{err}");
        assert!(!err.contains("max_frame_bytes"), "{err}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the error type
    fn unknown_keys_in_a_file_are_listed() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "chinwag.toml",
                "listen_bogus = 5\nengine = \"memory\"\n[gateway]\nmax_frame_byte = 10\nrate_burst = 7\n[gatewey]\nx = 1\n",
            )?;
            let unknown = Config::unknown_keys_in(Path::new("chinwag.toml")).map_err(|e| *e)?;
            assert_eq!(
                unknown,
                ["gateway.max_frame_byte", "gatewey", "listen_bogus"]
            );
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the error type
    fn unknown_variables_are_listed_and_test_variables_are_not() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("CHINWAG_GATEWAY__MAX_FRAME_BYTES", "131072");
            jail.set_env("CHINWAG_GATEWAY__MAX_FRAME_BYTE", "131072");
            jail.set_env("CHINWAG_LISTN", "127.0.0.1:1");
            jail.set_env("CHINWAG_TEST_POSTGRES_URL", "postgres://x");
            jail.set_env("CHINWAG_BENCH_PG_URL", "postgres://x");
            let mut unknown = Config::unknown_env_vars().map_err(|e| *e)?;
            unknown.sort();
            assert_eq!(
                unknown,
                ["CHINWAG_GATEWAY__MAX_FRAME_BYTE", "CHINWAG_LISTN"]
            );
            Ok(())
        });
    }
}
