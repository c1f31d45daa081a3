//! Scenario 2 (and 4): one topic room, publish rate stepped up. Each step
//! must deliver every event to every subscriber exactly once, in order;
//! the highest step with p99 under the budget is the sustained rate.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;

use super::{FanoutResult, Outcome, Step, connect_spread, damage, gather, wait_received};
use crate::coord::pool::{Pool, workers_for};
use crate::coord::progress::Progress;
use crate::coord::publisher::Publisher;
use crate::coord::servers::{Env, Kind, Server};
use crate::procstat;
use crate::worker::Cmd;

/// Events published before measuring, to warm up and check delivery.
const WARMUP: u64 = 10;

/// How a fan-out run is shaped.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Subscribers.
    pub subscribers: u64,
    /// Publish rates to step through, events/s.
    pub rates: Vec<f64>,
    /// Length of each step.
    pub step: Duration,
    /// Stop stepping once p99 exceeds this, ms.
    pub stop_p99_ms: f64,
}

/// Runs the plan against already-started servers (one, or a cluster: the
/// subscribers are spread over them and the publisher uses the first).
pub async fn run(
    env: &Env,
    kind: Kind,
    setup: &str,
    servers: &[Server],
    plan: &Plan,
) -> FanoutResult {
    let mut res = FanoutResult {
        kind,
        setup: setup.to_owned(),
        subscribers: plan.subscribers,
        outcome: Outcome::Ok,
        steps: Vec::new(),
    };
    if let Err(e) = steps(env, kind, servers, plan, &mut res).await {
        let tail = servers.first().map(|s| s.log_tail()).unwrap_or_default();
        let mut msg = format!("{e:#}");
        if !tail.is_empty() {
            msg.push_str(&format!(" | server log: {}", tail.replace('\n', " / ")));
        }
        res.outcome = Outcome::Failed(msg);
    } else if let Some(bad) = res.steps.iter().find(|s| s.outcome != Outcome::Ok) {
        res.outcome = bad.outcome.clone();
    }
    res
}

async fn steps(
    env: &Env,
    kind: Kind,
    servers: &[Server],
    plan: &Plan,
    res: &mut FanoutResult,
) -> Result<()> {
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let pids: Vec<u32> = servers.iter().map(|s| s.pid()).collect();
    let subs = plan.subscribers;
    let mut pool = Pool::spawn(workers_for(subs)).await?;
    let progress = Progress::start(&format!("fan-out {} x{subs}", kind.name()), &pool);
    connect_spread(&mut pool, kind.proto(), &addrs, &env.secret, subs, true).await?;
    let publisher = Publisher::connect(kind.proto(), addrs[0], &env.secret).await?;

    publisher.burst(WARMUP).await?;
    let mut expected = WARMUP * subs;
    wait_received(&pool, expected, Duration::from_secs(30)).await;
    let (stats, _) = gather(&mut pool).await?;
    if let Some(why) = damage(&stats, expected) {
        anyhow::bail!("warm-up: {why}");
    }
    let mut reordered_before = stats.reordered;
    let mut recovered_before = stats.recovered;

    for &rate in &plan.rates {
        pool.all(|_| Cmd::Reset, Duration::from_secs(30)).await?;
        let s0 = procstat::sample(&pids);
        let c0 = procstat::sample(&pool.pids());
        let published = publisher.rate(rate, plan.step).await?;
        let s1 = procstat::sample(&pids);
        let c1 = procstat::sample(&pool.pids());
        let before = expected;
        expected += published.count * subs;
        let drain = Duration::from_secs(10).max(plan.step * 2);
        wait_received(&pool, expected, drain).await;
        let (stats, hist) = gather(&mut pool).await?;
        let ms = |q: f64| hist.quantile(q) as f64 / 1000.0;
        let received = stats.received.saturating_sub(before);
        let step = Step {
            rate,
            published: published.count,
            expected: published.count * subs,
            received,
            deliveries_per_s: received as f64 / published.elapsed.as_secs_f64(),
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: hist.max() as f64 / 1000.0,
            server_cpu_pct: procstat::cpu_percent(&s0, &s1),
            server_user_cpu_pct: procstat::user_cpu_percent(&s0, &s1),
            server_rss: s1.rss_bytes,
            client_cpu_pct: procstat::cpu_percent(&c0, &c1),
            reordered: stats.reordered - reordered_before,
            recovered: stats.recovered - recovered_before,
            outcome: match damage(&stats, expected) {
                None => Outcome::Ok,
                Some(why) => Outcome::Failed(format!("at {rate} events/s: {why}")),
            },
        };
        progress.println(format!(
            "  {:<18} x{subs:<6} {:>7} ev/s -> {:>10.0} deliveries/s  p50 {:>8.2} ms  p99 {:>8.2} ms  p99.9 {:>8.2} ms  cpu {:>4.0}% (user {:>3.0}%)  {}{}",
            kind.name(),
            rate,
            step.deliveries_per_s,
            step.p50_ms,
            step.p99_ms,
            step.p999_ms,
            step.server_cpu_pct,
            step.server_user_cpu_pct,
            match &step.outcome {
                Outcome::Ok => "ok".to_owned(),
                other => format!("{other:?}"),
            },
            if step.reordered > 0 {
                format!(" ({} reordered)", step.reordered)
            } else {
                String::new()
            }
        ));
        reordered_before = stats.reordered;
        recovered_before = stats.recovered;
        let stop = step.outcome != Outcome::Ok || step.p99_ms > plan.stop_p99_ms;
        res.steps.push(step);
        if stop {
            break;
        }
    }
    Ok(())
}
