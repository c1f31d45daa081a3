//! The scenarios and their results. Every scenario counts every event: a
//! run that loses or duplicates one is reported as failed, never as a
//! data point.
//!
//! # Layout
//! - [`idle`]: idle connections, JWT checked at connect.
//! - [`fanout`]: one topic room, publish rate stepped up (also on a
//!   two-node cluster).
//! - [`chat`]: users in rooms of ten send persisted messages, with typing
//!   and presence churn, on SQLite and PostgreSQL.
//! - [`resume`]: clients drop, events are published, clients resume.

pub mod chat;
pub mod fanout;
pub mod idle;
pub mod resume;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::client::Proto;
use crate::coord::pool::Pool;
use crate::coord::servers::Kind;
use crate::hist::Histogram;
use crate::worker::{Cmd, Reply, Stats};

pub use chat::ChatResult;

/// Subscriber user ids start here (the publisher is user 1).
pub const FIRST_UID: u64 = 1000;

/// Outcome of one server in one scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    /// Ran and counted everything.
    Ok,
    /// Ran and failed (lost events, refused connections, crashed...).
    Failed(String),
    /// Could not run (feature or binary missing).
    Unavailable(String),
}

/// Idle-connection result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdleResult {
    /// Server.
    pub kind: Kind,
    /// Outcome.
    pub outcome: Outcome,
    /// Connections asked for.
    pub target: u64,
    /// Connections established (authenticated).
    pub connected: u64,
    /// Connections per second while connecting.
    pub connects_per_s: f64,
    /// Server RSS before, bytes.
    pub rss_before: u64,
    /// Server RSS with every connection idle, bytes.
    pub rss_after: u64,
    /// (after - before) / connected, bytes.
    pub rss_per_conn: f64,
    /// Server CPU while idle (heartbeats only), % of one core.
    pub idle_cpu_pct: f64,
}

/// One publish-rate step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// Publish rate asked for, events/s.
    pub rate: f64,
    /// Events published.
    pub published: u64,
    /// Deliveries expected (published × subscribers).
    pub expected: u64,
    /// Deliveries received.
    pub received: u64,
    /// Deliveries per second over the publish window.
    pub deliveries_per_s: f64,
    /// Latency percentiles, ms (publish timestamp to receipt).
    pub p50_ms: f64,
    /// p99, ms.
    pub p99_ms: f64,
    /// p99.9, ms.
    pub p999_ms: f64,
    /// max, ms.
    pub max_ms: f64,
    /// Server CPU over the publish window, % of one core.
    pub server_cpu_pct: f64,
    /// The user-space part of `server_cpu_pct` (the rest is the kernel's
    /// work on the server's behalf: on loopback, mostly TCP send and the
    /// receiving socket's input), % of one core.
    #[serde(default)]
    pub server_user_cpu_pct: f64,
    /// Server RSS at the end of the window, bytes.
    pub server_rss: u64,
    /// Load-generator CPU (all workers), % of one core.
    pub client_cpu_pct: f64,
    /// Deliveries that arrived after a later event (order not kept; not a
    /// loss, but reported).
    #[serde(default)]
    pub reordered: u64,
    /// Connections closed as slow consumers (4010) that resumed completely
    /// during the step (not a loss, but reported).
    #[serde(default)]
    pub recovered: u64,
    /// Ok, or why the step failed.
    pub outcome: Outcome,
}

#[cfg(test)]
impl Step {
    /// A step that delivered everything, with p50 1 ms and p99 10 ms, and
    /// a quarter of its server CPU in user space.
    pub fn sample(rate: f64, deliveries_per_s: f64, server_cpu_pct: f64) -> Step {
        Step {
            rate,
            published: 0,
            expected: 0,
            received: 0,
            deliveries_per_s,
            p50_ms: 1.0,
            p99_ms: 10.0,
            p999_ms: 20.0,
            max_ms: 30.0,
            server_cpu_pct,
            server_user_cpu_pct: server_cpu_pct / 4.0,
            server_rss: 0,
            client_cpu_pct: 0.0,
            reordered: 0,
            recovered: 0,
            outcome: Outcome::Ok,
        }
    }
}

/// Fan-out result for one server and one subscriber count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanoutResult {
    /// Server.
    pub kind: Kind,
    /// Label, e.g. `single` or `cluster over redis`.
    pub setup: String,
    /// Subscribers.
    pub subscribers: u64,
    /// Outcome of the run.
    pub outcome: Outcome,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl FanoutResult {
    /// The highest step that delivered everything with p99 under `budget_ms`.
    pub fn best(&self, budget_ms: f64) -> Option<&Step> {
        self.steps
            .iter()
            .filter(|s| s.outcome == Outcome::Ok && s.p99_ms < budget_ms)
            .max_by(|a, b| a.deliveries_per_s.total_cmp(&b.deliveries_per_s))
    }

    /// The step at publish rate `rate`, if it delivered everything.
    pub fn step_at(&self, rate: f64) -> Option<&Step> {
        self.steps
            .iter()
            .find(|s| s.rate == rate && s.outcome == Outcome::Ok)
    }
}

/// Resume result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResumeResult {
    /// Server.
    pub kind: Kind,
    /// Outcome.
    pub outcome: Outcome,
    /// Clients that dropped.
    pub clients: u64,
    /// Events published while they were away.
    pub missed: u64,
    /// Clients that got every missed event exactly once.
    pub complete: u64,
    /// Missed events received, all clients.
    pub events: u64,
    /// Wall time from the first reconnect to the last client caught up, ms.
    pub catch_up_ms: f64,
    /// Per-client catch-up p50, ms.
    pub p50_ms: f64,
    /// Per-client catch-up p99, ms.
    pub p99_ms: f64,
}

impl ResumeResult {
    /// A result for a server that cannot run the scenario.
    pub fn unavailable(kind: Kind, why: String) -> ResumeResult {
        ResumeResult {
            kind,
            outcome: Outcome::Unavailable(why),
            clients: 0,
            missed: 0,
            complete: 0,
            events: 0,
            catch_up_ms: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
        }
    }
}

/// Connects `count` clients spread over the pool's workers; worker `i`
/// talks to `addrs[i % addrs.len()]`. Fails if any client fails.
pub async fn connect_spread(
    pool: &mut Pool,
    proto: Proto,
    addrs: &[SocketAddr],
    secret: &str,
    count: u64,
    subscribe: bool,
) -> Result<()> {
    let n = pool.len() as u64;
    let per = count / n;
    let extra = count % n;
    let replies = pool
        .all(
            |i| {
                let i = i as u64;
                let first = FIRST_UID + i * per + i.min(extra);
                Cmd::Connect {
                    proto,
                    addr: addrs[i as usize % addrs.len()],
                    secret: secret.to_owned(),
                    first_uid: first,
                    count: per + u64::from(i < extra),
                    subscribe,
                    concurrency: 64,
                }
            },
            Duration::from_secs(600),
        )
        .await?;
    all_connected(replies, count)
}

/// Adds up the workers' `Connected` replies; fails unless all `expected`
/// clients connected.
pub fn all_connected(replies: Vec<Reply>, expected: u64) -> Result<()> {
    let (mut ok, mut failed, mut err) = (0, 0, None);
    for r in replies {
        if let Reply::Connected {
            ok: o,
            failed: f,
            first_error,
        } = r
        {
            ok += o;
            failed += f;
            err = err.or(first_error);
        }
    }
    if failed > 0 || ok != expected {
        bail!(
            "{ok} of {expected} clients connected, {failed} failed: {}",
            err.unwrap_or_default()
        );
    }
    Ok(())
}

/// Every worker's stats, added up, with the latency histograms merged.
pub async fn gather(pool: &mut Pool) -> Result<(Stats, Histogram)> {
    let replies = pool.all(|_| Cmd::Report, Duration::from_secs(60)).await?;
    let mut total = Stats::default();
    let mut hist = Histogram::new();
    for r in replies {
        let Reply::Stats(s) = r else {
            bail!("unexpected reply {r:?}")
        };
        total.received += s.received;
        total.dups += s.dups;
        total.reordered += s.reordered;
        total.offset_errors += s.offset_errors;
        total.lagged += s.lagged;
        total.closed += s.closed;
        total.recovered += s.recovered;
        total.connected += s.connected;
        total.first_error = total.first_error.or(s.first_error);
        hist.merge_sparse(&s.hist);
    }
    Ok((total, hist))
}

/// Waits until the workers have received `expected` events in total (by
/// their live ticks) or `timeout` passes; returns the final count.
pub async fn wait_received(pool: &Pool, expected: u64, timeout: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let got = pool.live_received();
        if got >= expected || tokio::time::Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the counters show any loss, duplicate or disorder.
pub fn damage(s: &Stats, expected: u64) -> Option<String> {
    let mut why = Vec::new();
    if s.received < expected {
        why.push(format!(
            "{} of {expected} deliveries missing",
            expected - s.received
        ));
    }
    if s.dups > 0 {
        why.push(format!("{} duplicated", s.dups));
    }
    if s.offset_errors > 0 {
        why.push(format!("{} offset discontinuities", s.offset_errors));
    }
    // A `lagged` frame announces a 4010 close; it is damage only when no
    // complete resume followed.
    if s.lagged > s.recovered {
        why.push(format!("{} lagged frames", s.lagged - s.recovered));
    }
    if s.closed > 0 {
        why.push(format!(
            "{} connections closed ({})",
            s.closed,
            s.first_error.clone().unwrap_or_default()
        ));
    }
    (!why.is_empty()).then(|| why.join("; "))
}
