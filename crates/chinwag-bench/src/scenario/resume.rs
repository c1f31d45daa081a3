//! Scenario 5: clients drop, events are published to their room, the
//! clients reconnect and resume. Completeness must be 100%.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::{Outcome, ResumeResult, connect_spread, damage, gather, wait_received};
use crate::coord::pool::{Pool, workers_for};
use crate::coord::progress::Progress;
use crate::coord::publisher::Publisher;
use crate::coord::servers::{self, Env, Kind, Options};
use crate::hist::Histogram;
use crate::worker::{Cmd, Reply};

const WARMUP: u64 = 5;

/// Drops `clients` subscribers, publishes `missed` events, resumes them.
pub async fn run(env: &Env, kind: Kind, clients: u64, missed: u64) -> ResumeResult {
    let mut res = ResumeResult {
        clients,
        missed,
        outcome: Outcome::Ok,
        ..ResumeResult::unavailable(kind, String::new())
    };
    if kind == Kind::Socketioxide {
        return ResumeResult::unavailable(
            kind,
            "socketioxide 0.18 has no connection-state recovery: a reconnect is a new session"
                .into(),
        );
    }
    if let Err(e) = measure(env, kind, clients, missed, &mut res).await {
        res.outcome = Outcome::Failed(format!("{e:#}"));
    }
    res
}

async fn measure(
    env: &Env,
    kind: Kind,
    clients: u64,
    missed: u64,
    res: &mut ResumeResult,
) -> Result<()> {
    let opts = Options {
        recovery: true,
        ..Options::default()
    };
    let server = servers::start(env, kind, &opts)?;
    let mut pool = Pool::spawn(workers_for(clients)).await?;
    let progress = Progress::start(&format!("resume {} x{clients}", kind.name()), &pool);
    connect_spread(
        &mut pool,
        kind.proto(),
        &[server.addr],
        &env.secret,
        clients,
        true,
    )
    .await?;
    let publisher = Publisher::connect(kind.proto(), server.addr, &env.secret).await?;
    publisher.burst(WARMUP).await?;
    wait_received(&pool, WARMUP * clients, Duration::from_secs(30)).await;
    let (stats, _) = gather(&mut pool).await?;
    if let Some(why) = damage(&stats, WARMUP * clients) {
        bail!("warm-up: {why}");
    }
    pool.all(|_| Cmd::Drop, Duration::from_secs(60)).await?;
    // Let the server see every disconnect before publishing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let published = publisher.burst(missed).await?;
    let t0 = Instant::now();
    let replies = pool
        .all(
            |_| Cmd::Resume {
                target_seq: published.last_seq,
                timeout_ms: 30_000,
            },
            Duration::from_secs(120),
        )
        .await?;
    res.catch_up_ms = t0.elapsed().as_secs_f64() * 1000.0;
    drop(progress);
    let mut per_client = Histogram::new();
    let mut first_error = None;
    let mut resync = 0;
    for r in replies {
        let Reply::Resumed(rs) = r else {
            bail!("unexpected reply {r:?}")
        };
        res.complete += rs.complete;
        res.events += rs.events;
        resync += rs.resync_or_denied;
        first_error = first_error.or(rs.first_error);
        for ms in rs.catch_up_ms {
            per_client.record(ms);
        }
    }
    res.p50_ms = per_client.quantile(0.5) as f64;
    res.p99_ms = per_client.quantile(0.99) as f64;
    if res.complete != clients {
        bail!(
            "{} of {clients} clients complete, {} of {} events; {resync} resync/denied; {}",
            res.complete,
            res.events,
            clients * missed,
            first_error.unwrap_or_default()
        );
    }
    Ok(())
}
