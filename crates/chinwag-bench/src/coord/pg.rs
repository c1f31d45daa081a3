//! A PostgreSQL schema of its own for one run, made and dropped with
//! `psql`, so reruns never see an earlier run's rows.

use std::process::Command;

use anyhow::{Context, Result, bail};

/// Where PostgreSQL is: `CHINWAG_BENCH_PG_URL`, or the local test server.
pub fn base_url() -> String {
    std::env::var("CHINWAG_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema that is dropped (with everything in it) when this is dropped.
pub struct Schema {
    base: String,
    /// The schema's name.
    pub name: String,
}

fn psql(url: &str, sql: &str) -> Result<()> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .context("running psql")?;
    if !out.status.success() {
        bail!(
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace('\n', " ")
        );
    }
    Ok(())
}

impl Schema {
    /// Creates `chinwag_bench_<pid>_<secs>` on the server at [`base_url`].
    pub fn create() -> Result<Schema> {
        let base = base_url();
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let name = format!("chinwag_bench_{}_{secs}", std::process::id());
        psql(&base, &format!("CREATE SCHEMA {name}"))?;
        Ok(Schema { base, name })
    }

    /// Settles the database after a bulk load, as an operator would:
    /// `VACUUM ANALYZE` (fresh planner statistics, no autovacuum pass
    /// landing in a measured step) and `CHECKPOINT` (the load's dirty
    /// pages written now, not during the first steps' commits).
    pub fn settle(&self) -> Result<()> {
        psql(&self.url(), "VACUUM ANALYZE")?;
        psql(&self.base, "CHECKPOINT")
    }

    /// The database URL whose connections use this schema (sqlx passes
    /// `options` to the server as `-c search_path=...`).
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Err(e) = psql(&self.base, &format!("DROP SCHEMA {} CASCADE", self.name)) {
            eprintln!("could not drop schema {}: {e:#}", self.name);
        }
    }
}
