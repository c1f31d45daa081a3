//! Scenario 3: the chat workload. Users in rooms of ten (one community
//! with one text channel each) send persisted messages over the WebSocket
//! (`send_message`), some after a `typing`, while about 0.3% of the
//! connections per second drop and resume. The message rate is stepped up;
//! every step must deliver every stored message to every member of its
//! room exactly once (live or replayed), or it is a failed run. Runs on
//! SQLite and on PostgreSQL.
//!
//! Setup (not measured): register the users over REST (argon2 hashing,
//! about 20 ms of server CPU each), then per room the owner creates the
//! community, its channel and an invite, and the others join.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Outcome;
use crate::coord::http::Http;
use crate::coord::pg;
use crate::coord::pool::{Pool, workers_for};
use crate::coord::progress::Progress;
use crate::coord::servers::{self, Env, Kind, Options};
use crate::hist::Histogram;
use crate::jwt;
use crate::procstat;
use crate::worker::chat::{Member, StepPlan, StepStats};
use crate::worker::{Cmd, Reply};

/// The database behind the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// SQLite in the server's data directory (the default).
    Sqlite,
    /// PostgreSQL, in a schema made for the run.
    Postgres,
}

impl Backend {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// How a chat run is shaped.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Users (= connections).
    pub users: u64,
    /// Members per room.
    pub room_size: u64,
    /// Deliveries/s to step through (messages/s × room size).
    pub deliveries: Vec<f64>,
    /// Send window of each step.
    pub step: Duration,
    /// Fraction of messages preceded by `typing`.
    pub typing: f64,
    /// Fraction of connections dropped and resumed per second.
    pub churn: f64,
    /// How long a dropped connection stays away.
    pub away: Duration,
    /// Stop stepping once p99 exceeds this, ms.
    pub stop_p99_ms: f64,
}

/// One step of the chat workload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatStep {
    /// Deliveries/s asked for.
    pub target: f64,
    /// Messages/s asked for.
    pub rate: f64,
    /// Messages stored (acknowledged).
    pub messages: u64,
    /// Sends skipped: every member of the rooms tried was busy.
    pub skipped: u64,
    /// Deliveries expected (messages × room members).
    pub expected: u64,
    /// Deliveries received (live and replayed).
    pub received: u64,
    /// Of those, replayed by resumes.
    pub replayed: u64,
    /// Deliveries per second over the send window.
    pub deliveries_per_s: f64,
    /// Live delivery latency (send to receipt), ms.
    pub p50_ms: f64,
    /// p99, ms.
    pub p99_ms: f64,
    /// p99.9, ms.
    pub p999_ms: f64,
    /// max, ms.
    pub max_ms: f64,
    /// Send-to-ack p99 (the message is stored), ms.
    pub ack_p99_ms: f64,
    /// Server CPU over the window, % of one core (PostgreSQL not included).
    pub server_cpu_pct: f64,
    /// Server RSS at the end of the window, bytes.
    pub server_rss: u64,
    /// Load-generator CPU, % of one core.
    pub client_cpu_pct: f64,
    /// Presence events delivered.
    pub presence: u64,
    /// `typing` commands sent.
    pub typing_sent: u64,
    /// `USER_TYPING` deliveries.
    pub typing_received: u64,
    /// Typing events the server dropped for slow clients.
    pub typing_dropped: u64,
    /// Connections dropped by the churn (each resumed).
    pub churned: u64,
    /// Connections the server closed (resumed).
    pub server_closes: u64,
    /// Ok, or why the step failed.
    pub outcome: Outcome,
}

/// Chat result for one server on one database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatResult {
    /// Server.
    pub kind: Kind,
    /// Database.
    pub backend: Backend,
    /// Connections.
    pub users: u64,
    /// Members per room.
    pub room_size: u64,
    /// Setup time (register, communities, connect), s.
    pub setup_s: f64,
    /// Fraction of messages preceded by `typing`.
    pub typing: f64,
    /// Churn per second (fraction of connections).
    pub churn: f64,
    /// Outcome of the run.
    pub outcome: Outcome,
    /// The steps, in order.
    pub steps: Vec<ChatStep>,
    /// The server log's warnings and errors over the run (a stall's
    /// explanation, if the server had one).
    #[serde(default)]
    pub server_warnings: Vec<String>,
}

impl ChatResult {
    /// A result for a run that could not happen.
    pub fn unavailable(kind: Kind, backend: Backend, why: String) -> ChatResult {
        ChatResult {
            kind,
            backend,
            users: 0,
            room_size: 0,
            setup_s: 0.0,
            typing: 0.0,
            churn: 0.0,
            outcome: Outcome::Unavailable(why),
            steps: vec![],
            server_warnings: vec![],
        }
    }

    /// The first step whose p99 went over `budget_ms`.
    pub fn crossing(&self, budget_ms: f64) -> Option<&ChatStep> {
        self.steps.iter().find(|s| s.p99_ms > budget_ms)
    }

    /// The highest step that delivered everything with p99 under
    /// `budget_ms`.
    pub fn best(&self, budget_ms: f64) -> Option<&ChatStep> {
        self.steps
            .iter()
            .filter(|s| s.outcome == Outcome::Ok && s.p99_ms <= budget_ms)
            .max_by(|a, b| a.deliveries_per_s.total_cmp(&b.deliveries_per_s))
    }

    /// The step asked for the rate closest to `deliveries` per second.
    pub fn at(&self, deliveries: f64) -> Option<&ChatStep> {
        self.steps.iter().min_by(|a, b| {
            (a.target - deliveries)
                .abs()
                .total_cmp(&(b.target - deliveries).abs())
        })
    }
}

/// Users `[start, end)` of each room: `users` split into rooms of
/// `room_size` (the last may be smaller, but never a room of one).
pub fn rooms(users: u64, room_size: u64) -> Vec<Range<u64>> {
    let size = room_size.max(2);
    let mut out: Vec<Range<u64>> = (0..users)
        .step_by(size as usize)
        .map(|s| s..(s + size).min(users))
        .collect();
    if out.len() > 1 && out.last().is_some_and(|r| r.end - r.start < 2) {
        let last = out.pop().unwrap_or_default();
        if let Some(prev) = out.last_mut() {
            prev.end = last.end;
        }
    }
    out
}

/// Rooms `[start, end)` of each of `workers` workers, as even as whole
/// rooms allow.
pub fn split(rooms: usize, workers: usize) -> Vec<Range<usize>> {
    let workers = workers.max(1);
    let per = rooms / workers;
    let extra = rooms % workers;
    let mut start = 0;
    (0..workers)
        .map(|i| {
            let n = per + usize::from(i < extra);
            let r = start..start + n;
            start += n;
            r
        })
        .collect()
}

/// Runs the chat workload against Chinwag on `backend`.
pub async fn run(env: &Env, backend: Backend, plan: &Plan) -> ChatResult {
    let kind = Kind::Chinwag;
    if env.chinwag_bin.is_none() {
        return ChatResult::unavailable(
            kind,
            backend,
            "the chinwag binary is not built (cargo build --release -p chinwag-server)".into(),
        );
    }
    let schema = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => match pg::Schema::create() {
            Ok(s) => Some(s),
            Err(e) => {
                return ChatResult::unavailable(
                    kind,
                    backend,
                    format!("PostgreSQL at {} is not reachable: {e:#}", pg::base_url()),
                );
            }
        },
    };
    let opts = Options {
        database_url: schema.as_ref().map(|s| s.url()),
        ..Options::default()
    };
    let mut res = ChatResult {
        users: plan.users,
        room_size: plan.room_size,
        typing: plan.typing,
        churn: plan.churn,
        outcome: Outcome::Ok,
        ..ChatResult::unavailable(kind, backend, String::new())
    };
    let server = match servers::start(env, kind, &opts) {
        Ok(s) => s,
        Err(e) => {
            res.outcome = Outcome::Failed(format!("{e:#}"));
            return res;
        }
    };
    let settle = || schema.as_ref().map_or(Ok(()), pg::Schema::settle);
    if let Err(e) = steps(
        env,
        backend,
        server.addr,
        server.pid(),
        plan,
        settle,
        &mut res,
    )
    .await
    {
        let tail = server.log_tail();
        let mut msg = format!("{e:#}");
        if !tail.is_empty() {
            msg.push_str(&format!(" | server log: {}", tail.replace('\n', " / ")));
        }
        res.outcome = Outcome::Failed(msg);
    } else if let Some(bad) = res.steps.iter().find(|s| s.outcome != Outcome::Ok) {
        res.outcome = bad.outcome.clone();
    }
    res.server_warnings = server.log_warnings();
    // The server goes first: it holds connections into the schema.
    drop(server);
    drop(schema);
    res
}

async fn steps(
    env: &Env,
    backend: Backend,
    addr: SocketAddr,
    pid: u32,
    plan: &Plan,
    settle: impl FnOnce() -> Result<()>,
    res: &mut ChatResult,
) -> Result<()> {
    let label = format!("chat {}", backend.name());
    let t0 = Instant::now();
    let uids = register(addr, plan.users, &label).await?;
    let members = communities(addr, &env.secret, &uids, plan.room_size, &label).await?;
    settle().context("settling the database after the setup")?;
    let room_list = rooms(plan.users, plan.room_size);
    let mut pool = Pool::spawn(workers_for(plan.users)).await?;
    let shares = split(room_list.len(), pool.len());
    let progress = Progress::start(&label, &pool);
    let slices: Vec<Vec<Member>> = shares
        .iter()
        .map(|r| {
            let users = room_list[r.start].start as usize..room_list[r.end - 1].end as usize;
            members[users].to_vec()
        })
        .collect();
    let replies = pool
        .all(
            |i| Cmd::ChatConnect {
                addr,
                secret: env.secret.clone(),
                members: slices[i].clone(),
                concurrency: 64,
            },
            Duration::from_secs(600),
        )
        .await?;
    super::all_connected(replies, plan.users)?;
    res.setup_s = t0.elapsed().as_secs_f64();
    progress.println(format!(
        "  {label}: {} users in {} rooms connected; setup took {:.0} s",
        plan.users,
        room_list.len(),
        res.setup_s
    ));
    let rooms_total = room_list.len() as f64;
    let share = |i: usize| (shares[i].end - shares[i].start) as f64 / rooms_total;

    // Warm-up: about one message per room, no churn; everything must
    // arrive before measuring.
    let warm = StepPlan {
        rate: rooms_total / 2.0,
        window_ms: 2_000,
        typing: 0.0,
        churn: 0.0,
        away_ms: 0,
        drain_ms: 30_000,
    };
    pool.send(|i| {
        Cmd::ChatStep(StepPlan {
            rate: warm.rate * share(i),
            ..warm.clone()
        })
    })
    .await?;
    let (stats, _, _) = merge(pool.collect(Duration::from_secs(120)).await?)?;
    if let Some(why) = stats.damage() {
        bail!("warm-up: {why}");
    }

    for &target in &plan.deliveries {
        let rate = target / plan.room_size as f64;
        let step = StepPlan {
            rate,
            window_ms: plan.step.as_millis() as u64,
            typing: plan.typing,
            churn: plan.churn,
            away_ms: plan.away.as_millis() as u64,
            drain_ms: 30_000,
        };
        pool.send(|i| {
            Cmd::ChatStep(StepPlan {
                rate: rate * share(i),
                ..step.clone()
            })
        })
        .await?;
        let s0 = procstat::sample(&[pid]);
        let c0 = procstat::sample(&pool.pids());
        tokio::time::sleep(plan.step).await;
        let s1 = procstat::sample(&[pid]);
        let c1 = procstat::sample(&pool.pids());
        let replies = pool.collect(plan.step + Duration::from_secs(120)).await?;
        let (stats, hist, ack) = merge(replies)?;
        let ms = |h: &Histogram, q: f64| h.quantile(q) as f64 / 1000.0;
        let mut outcome = match stats.damage() {
            None => Outcome::Ok,
            Some(why) => Outcome::Failed(format!("at {target} deliveries/s: {why}")),
        };
        if outcome == Outcome::Ok && hist.count() == 0 {
            outcome = Outcome::Failed(format!("at {target} deliveries/s: nothing delivered"));
        }
        let s = ChatStep {
            target,
            rate,
            messages: stats.acked,
            skipped: stats.skipped,
            expected: stats.expected,
            received: stats.received,
            replayed: stats.replayed,
            deliveries_per_s: stats.received as f64 / plan.step.as_secs_f64(),
            p50_ms: ms(&hist, 0.5),
            p99_ms: ms(&hist, 0.99),
            p999_ms: ms(&hist, 0.999),
            max_ms: hist.max() as f64 / 1000.0,
            ack_p99_ms: ms(&ack, 0.99),
            server_cpu_pct: procstat::cpu_percent(&s0, &s1),
            server_rss: s1.rss_bytes,
            client_cpu_pct: procstat::cpu_percent(&c0, &c1),
            presence: stats.presence,
            typing_sent: stats.typing_sent,
            typing_received: stats.typing_received,
            typing_dropped: stats.typing_dropped,
            churned: stats.churned,
            server_closes: stats.server_closes,
            outcome,
        };
        progress.println(format!(
            "  {label:<18} {:>7.0} msg/s -> {:>8.0} deliveries/s  p50 {:>7.2} ms  p99 {:>7.2} ms  p99.9 {:>7.2} ms  ack p99 {:>7.2} ms  cpu {:>4.0}%  churned {} replayed {} presence {} typing {}/{}{}  {}",
            rate,
            s.deliveries_per_s,
            s.p50_ms,
            s.p99_ms,
            s.p999_ms,
            s.ack_p99_ms,
            s.server_cpu_pct,
            s.churned,
            s.replayed,
            s.presence,
            s.typing_sent,
            s.typing_received,
            if s.skipped > 0 {
                format!(" skipped {}", s.skipped)
            } else {
                String::new()
            },
            match &s.outcome {
                Outcome::Ok => "ok".to_owned(),
                other => format!("{other:?}"),
            }
        ));
        let stop = s.outcome != Outcome::Ok || s.p99_ms > plan.stop_p99_ms;
        res.steps.push(s);
        if stop {
            break;
        }
    }
    Ok(())
}

/// Adds up the workers' step replies.
fn merge(replies: Vec<Reply>) -> Result<(StepStats, Histogram, Histogram)> {
    let mut total = StepStats::default();
    let (mut hist, mut ack) = (Histogram::new(), Histogram::new());
    for r in replies {
        let Reply::ChatStepped(s) = r else {
            bail!("unexpected reply {r:?}")
        };
        total.add(&s);
        hist.merge_sparse(&s.hist);
        ack.merge_sparse(&s.ack_hist);
    }
    Ok((total, hist, ack))
}

/// Registrations in flight at once (each is ~20 ms of argon2 on the
/// server's blocking pool).
const REGISTER_CONCURRENCY: u64 = 8;
/// Room setups in flight at once.
const SETUP_CONCURRENCY: usize = 16;
const PASSWORD: &str = "chinwag-bench-password";

fn id_of(v: &Value, what: &str) -> Result<u64> {
    let id = &v["id"];
    id.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| id.as_u64())
        .with_context(|| format!("no id in the {what}: {v}"))
}

/// Registers `users` accounts; their user ids, in order.
async fn register(addr: SocketAddr, users: u64, label: &str) -> Result<Vec<u64>> {
    let t0 = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let tag: String = {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        (0..6)
            .map(|_| (b'a' + rng.gen_range(0..26)) as char)
            .collect()
    };
    let mut tasks = Vec::new();
    for k in 0..REGISTER_CONCURRENCY {
        let (done, tag) = (done.clone(), tag.clone());
        tasks.push(tokio::spawn(async move {
            let mut http = Http::new(addr);
            let mut out = Vec::new();
            for i in (k..users).step_by(REGISTER_CONCURRENCY as usize) {
                let v = http
                    .post(
                        "/auth/register",
                        None,
                        &json!({ "username": format!("cb_{tag}_{i}"), "password": PASSWORD }),
                    )
                    .await?;
                out.push((i, id_of(&v["user"], "registration")?));
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(out)
        }));
    }
    let step = (users / 10).max(1);
    let mut next = step;
    while tasks.iter().any(|t| !t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let n = done.load(Ordering::Relaxed);
        if n >= next && n < users {
            eprintln!(
                "  {label}: registered {n} of {users} users ({:.0} s)",
                t0.elapsed().as_secs_f64()
            );
            next = (n / step + 1) * step;
        }
    }
    let mut uids = vec![0; users as usize];
    for t in tasks {
        for (i, uid) in t.await?? {
            uids[i as usize] = uid;
        }
    }
    eprintln!(
        "  {label}: registered {users} users in {:.0} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(uids)
}

/// Makes each room: the first user creates a community, a text channel and
/// an invite; the others join. Returns every user with its channel.
async fn communities(
    addr: SocketAddr,
    secret: &str,
    uids: &[u64],
    room_size: u64,
    label: &str,
) -> Result<Vec<Member>> {
    let t0 = Instant::now();
    let groups = rooms(uids.len() as u64, room_size);
    let mut tasks = Vec::new();
    for k in 0..SETUP_CONCURRENCY {
        let mine: Vec<(usize, Vec<u64>)> = groups
            .iter()
            .enumerate()
            .skip(k)
            .step_by(SETUP_CONCURRENCY)
            .map(|(g, r)| (g, uids[r.start as usize..r.end as usize].to_vec()))
            .collect();
        let secret = secret.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut http = Http::new(addr);
            let mut out = Vec::new();
            for (g, users) in mine {
                let owner = jwt::mint(&secret, users[0])?;
                let community = http
                    .post(
                        "/communities",
                        Some(&owner),
                        &json!({ "name": format!("bench room {g}") }),
                    )
                    .await?;
                let cid = id_of(&community, "community")?;
                let channel = http
                    .post(
                        &format!("/communities/{cid}/channels"),
                        Some(&owner),
                        &json!({ "name": "general" }),
                    )
                    .await?;
                let channel = id_of(&channel, "channel")?;
                let invite = http
                    .post(
                        &format!("/communities/{cid}/invites"),
                        Some(&owner),
                        &json!({}),
                    )
                    .await?;
                let code = invite["code"]
                    .as_str()
                    .with_context(|| format!("no code in the invite: {invite}"))?
                    .to_owned();
                for &uid in &users[1..] {
                    let token = jwt::mint(&secret, uid)?;
                    http.post(&format!("/invites/{code}/join"), Some(&token), &json!({}))
                        .await?;
                }
                out.push((g, channel));
            }
            anyhow::Ok(out)
        }));
    }
    let mut channel_of = vec![0; groups.len()];
    for t in tasks {
        for (g, c) in t.await?? {
            channel_of[g] = c;
        }
    }
    eprintln!(
        "  {label}: {} rooms made in {:.0} s",
        groups.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(groups
        .iter()
        .enumerate()
        .flat_map(|(g, r)| {
            let channel = channel_of[g];
            r.clone().map(move |i| Member {
                uid: uids[i as usize],
                channel,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_of_ten() {
        let r = rooms(10_000, 10);
        assert_eq!(r.len(), 1_000);
        assert!(r.iter().all(|x| x.end - x.start == 10));
        assert_eq!(r[999], 9_990..10_000);
        // A remainder of one joins the room before it.
        assert_eq!(rooms(21, 10), vec![0..10, 10..21]);
        assert_eq!(rooms(25, 10), vec![0..10, 10..20, 20..25]);
        assert!(rooms(0, 10).is_empty());
    }

    #[test]
    fn rooms_split_evenly_over_workers() {
        assert_eq!(split(1_000, 2), vec![0..500, 500..1_000]);
        assert_eq!(split(7, 3), vec![0..3, 3..5, 5..7]);
        let total: usize = split(1_001, 4).iter().map(|r| r.len()).sum();
        assert_eq!(total, 1_001);
    }

    fn step(target: f64, p99: f64) -> ChatStep {
        ChatStep {
            target,
            rate: target / 10.0,
            messages: 0,
            skipped: 0,
            expected: 0,
            received: 0,
            replayed: 0,
            deliveries_per_s: target,
            p50_ms: p99 / 2.0,
            p99_ms: p99,
            p999_ms: p99,
            max_ms: p99,
            ack_p99_ms: 0.0,
            server_cpu_pct: 0.0,
            server_rss: 0,
            client_cpu_pct: 0.0,
            presence: 0,
            typing_sent: 0,
            typing_received: 0,
            typing_dropped: 0,
            churned: 0,
            server_closes: 0,
            outcome: Outcome::Ok,
        }
    }

    #[test]
    fn finds_the_crossing_and_the_target_step() {
        let r = ChatResult {
            steps: vec![
                step(2_500.0, 3.0),
                step(10_000.0, 8.0),
                step(20_000.0, 30.0),
                step(40_000.0, 70.0),
            ],
            ..ChatResult::unavailable(Kind::Chinwag, Backend::Sqlite, String::new())
        };
        assert_eq!(r.crossing(50.0).map(|s| s.target), Some(40_000.0));
        assert_eq!(r.best(50.0).map(|s| s.target), Some(20_000.0));
        assert_eq!(r.at(10_000.0).map(|s| s.p99_ms), Some(8.0));
        assert_eq!(r.at(12_000.0).map(|s| s.target), Some(10_000.0));
    }
}
