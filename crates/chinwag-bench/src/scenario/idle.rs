//! Scenario 1: idle connections, each authenticated by a JWT at connect.
//! Reports connects/s and server RSS per connection.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::{IdleResult, Outcome, connect_spread};
use crate::coord::pool::{Pool, workers_for};
use crate::coord::progress::Progress;
use crate::coord::servers::{self, Env, Kind, Options};
use crate::procstat;

/// Opens `target` idle connections to a fresh `kind` server, holds them
/// for `hold`, and measures.
pub async fn run(env: &Env, kind: Kind, target: u64, hold: Duration) -> IdleResult {
    let mut res = IdleResult {
        kind,
        outcome: Outcome::Ok,
        target,
        connected: 0,
        connects_per_s: 0.0,
        rss_before: 0,
        rss_after: 0,
        rss_per_conn: 0.0,
        idle_cpu_pct: 0.0,
    };
    if let Err(e) = measure(env, kind, target, hold, &mut res).await {
        res.outcome = Outcome::Failed(format!("{e:#}"));
    }
    res
}

async fn measure(
    env: &Env,
    kind: Kind,
    target: u64,
    hold: Duration,
    res: &mut IdleResult,
) -> Result<()> {
    let server = servers::start(env, kind, &Options::default())?;
    let mut pool = Pool::spawn(workers_for(target)).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = procstat::sample(&[server.pid()]);
    res.rss_before = before.rss_bytes;
    let progress = Progress::start(&format!("idle {} x{target}", kind.name()), &pool);
    let t0 = Instant::now();
    let connected = connect_spread(
        &mut pool,
        kind.proto(),
        &[server.addr],
        &env.secret,
        target,
        false,
    )
    .await;
    let secs = t0.elapsed().as_secs_f64();
    res.connected = pool
        .live_connected()
        .max(if connected.is_ok() { target } else { 0 });
    connected?;
    res.connected = target;
    res.connects_per_s = target as f64 / secs;
    let settled = procstat::sample(&[server.pid()]);
    tokio::time::sleep(hold).await;
    let after = procstat::sample(&[server.pid()]);
    drop(progress);
    res.rss_after = after.rss_bytes;
    res.rss_per_conn = after.rss_bytes.saturating_sub(before.rss_bytes) as f64 / target as f64;
    res.idle_cpu_pct = procstat::cpu_percent(&settled, &after);
    let (stats, _) = super::gather(&mut pool).await?;
    if stats.closed > 0 || stats.connected != target {
        anyhow::bail!(
            "{} of {target} connections still open after {hold:?}: {}",
            stats.connected,
            stats.first_error.unwrap_or_default()
        );
    }
    Ok(())
}
