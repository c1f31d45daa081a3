//! `compare`: every scenario against every server, then the report.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::coord::servers::{self, Env, Kind, Options, Server};
use crate::procstat;
use crate::report::{self, Machine};
use crate::scenario::chat::{self, Backend};
use crate::scenario::fanout::Plan;
use crate::scenario::{
    ChatResult, FanoutResult, IdleResult, Outcome, ResumeResult, fanout, idle, resume,
};

/// The scenarios, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// 1: idle connections.
    Idle,
    /// 2: one-room fan-out.
    Fanout,
    /// 3: chat workload.
    Chat,
    /// 4: two-node cluster.
    Cluster,
    /// 5: drop and resume.
    Resume,
}

/// How big a comparison is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sizes {
    /// `quick` or `full`.
    pub mode: String,
    /// Idle connections per server.
    pub idle_conns: u64,
    /// How long they are held, s.
    pub idle_hold_s: u64,
    /// Fan-out subscriber counts.
    pub fanout_subs: Vec<u64>,
    /// Deliveries/s targets per step (rate = target / subscribers).
    pub deliveries: Vec<f64>,
    /// Step length, s.
    pub step_s: f64,
    /// Cluster subscribers.
    pub cluster_subs: u64,
    /// Resume clients.
    pub resume_clients: u64,
    /// Events each resuming client missed.
    pub resume_missed: u64,
    /// Chat: users (= connections).
    #[serde(default)]
    pub chat_users: u64,
    /// Chat: deliveries/s per step (messages/s × 10).
    #[serde(default)]
    pub chat_deliveries: Vec<f64>,
    /// Chat: step length, s.
    #[serde(default)]
    pub chat_step_s: f64,
    /// Chat: the databases to run it on.
    #[serde(default = "all_backends")]
    pub chat_backends: Vec<Backend>,
}

fn all_backends() -> Vec<Backend> {
    vec![Backend::Sqlite, Backend::Postgres]
}

impl Sizes {
    /// Seconds-long runs with small counts, for development.
    pub fn quick() -> Sizes {
        Sizes {
            mode: "quick".into(),
            idle_conns: 2_000,
            idle_hold_s: 2,
            fanout_subs: vec![200, 1_000],
            deliveries: vec![20e3, 100e3, 400e3],
            step_s: 1.5,
            cluster_subs: 1_000,
            resume_clients: 200,
            resume_missed: 100,
            chat_users: 1_000,
            chat_deliveries: vec![1e3, 2.5e3, 5e3, 10e3, 20e3],
            chat_step_s: 5.0,
            chat_backends: all_backends(),
        }
    }

    /// The sizes the issue asks for.
    pub fn full() -> Sizes {
        Sizes {
            mode: "full".into(),
            idle_conns: 19_000,
            idle_hold_s: 5,
            fanout_subs: vec![1_000, 10_000],
            deliveries: vec![
                10e3, 25e3, 50e3, 100e3, 200e3, 400e3, 600e3, 800e3, 1.2e6, 1.6e6, 2e6, 2.4e6,
                3.2e6,
            ],
            step_s: 3.0,
            cluster_subs: 1_000,
            resume_clients: 1_000,
            resume_missed: 100,
            chat_users: 10_000,
            chat_deliveries: vec![1e3, 2.5e3, 5e3, 10e3, 20e3, 40e3, 60e3, 80e3],
            chat_step_s: 10.0,
            chat_backends: all_backends(),
        }
    }

    fn plan(&self, subs: u64) -> Plan {
        Plan {
            subscribers: subs,
            rates: self
                .deliveries
                .iter()
                .map(|d| (d / subs as f64).max(1.0).round())
                .collect(),
            step: Duration::from_secs_f64(self.step_s),
            stop_p99_ms: 1000.0,
        }
    }

    fn chat_plan(&self) -> chat::Plan {
        chat::Plan {
            users: self.chat_users,
            room_size: CHAT_ROOM_SIZE,
            deliveries: self.chat_deliveries.clone(),
            step: Duration::from_secs_f64(self.chat_step_s),
            typing: CHAT_TYPING,
            churn: CHAT_CHURN_PER_S,
            away: Duration::from_millis(500),
            // The question is where p99 crosses 50 ms; one step past it
            // is enough.
            stop_p99_ms: 50.0,
        }
    }
}

/// Chat: members per room.
pub const CHAT_ROOM_SIZE: u64 = 10;
/// Chat: fraction of messages preceded by `typing`.
pub const CHAT_TYPING: f64 = 0.2;
/// Chat: fraction of connections dropped (and resumed) per second.
pub const CHAT_CHURN_PER_S: f64 = 0.003;

/// Everything one comparison measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// The command that produced it.
    pub command: String,
    /// Sizes used.
    pub sizes: Sizes,
    /// Machine and revision.
    pub machine: Machine,
    /// Scenario 1.
    pub idle: Vec<IdleResult>,
    /// Scenario 2.
    pub fanout: Vec<FanoutResult>,
    /// Scenario 3, per server and database.
    #[serde(default, deserialize_with = "lenient")]
    pub chat: Vec<ChatResult>,
    /// Scenario 4.
    pub cluster: Vec<FanoutResult>,
    /// Scenario 5.
    pub resume: Vec<ResumeResult>,
}

/// Reads results written before the chat scenario existed (its entries
/// were bare outcomes) as "not run".
fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ChatResult>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

fn unavailable_fanout(kind: Kind, setup: &str, subs: u64, why: &str) -> FanoutResult {
    FanoutResult {
        kind,
        setup: setup.into(),
        subscribers: subs,
        outcome: Outcome::Unavailable(why.into()),
        steps: vec![],
    }
}

fn missing(env: &Env, kind: Kind) -> Option<String> {
    (kind == Kind::Chinwag && env.chinwag_bin.is_none()).then(|| {
        "the chinwag binary is not built (cargo build --release -p chinwag-server)".to_owned()
    })
}

/// Runs the chosen scenarios against the chosen servers.
pub async fn run(
    env: &Env,
    sizes: Sizes,
    kinds: &[Kind],
    scenarios: &[Scenario],
    command: String,
) -> Result<Results> {
    if kinds.contains(&Kind::SocketIo) {
        servers::ensure_node_peer(&env.node_dir)?;
    }
    let mut r = Results {
        command,
        machine: report::machine(env),
        sizes: sizes.clone(),
        idle: vec![],
        fanout: vec![],
        chat: vec![],
        cluster: vec![],
        resume: vec![],
    };
    let has = |s| scenarios.contains(&s);
    if has(Scenario::Idle) {
        for &k in kinds {
            let res = match missing(env, k) {
                Some(why) => skipped_idle(k, sizes.idle_conns, why),
                None => {
                    idle::run(
                        env,
                        k,
                        sizes.idle_conns,
                        Duration::from_secs(sizes.idle_hold_s),
                    )
                    .await
                }
            };
            eprintln!("idle {}: {:?}", k.name(), res.outcome);
            r.idle.push(res);
            cool_down().await;
        }
    }
    if has(Scenario::Fanout) {
        for &subs in &sizes.fanout_subs {
            for &k in kinds {
                let res = match missing(env, k) {
                    Some(why) => unavailable_fanout(k, "single", subs, &why),
                    None => match servers::start(env, k, &Options::default()) {
                        Ok(server) => {
                            fanout::run(env, k, "single", &[server], &sizes.plan(subs)).await
                        }
                        Err(e) => FanoutResult {
                            outcome: Outcome::Failed(format!("{e:#}")),
                            ..unavailable_fanout(k, "single", subs, "")
                        },
                    },
                };
                eprintln!("fan-out {} x{subs}: {:?}", k.name(), res.outcome);
                r.fanout.push(res);
                cool_down().await;
            }
        }
    }
    if has(Scenario::Chat) {
        for &k in kinds {
            for &backend in &sizes.chat_backends {
                let res = match k {
                    Kind::Chinwag => chat::run(env, backend, &sizes.chat_plan()).await,
                    _ if backend == Backend::Sqlite => ChatResult::unavailable(
                        k,
                        backend,
                        "not applicable: the peers here are pub/sub servers with no chat domain"
                            .into(),
                    ),
                    _ => continue,
                };
                eprintln!("chat {} on {}: {:?}", k.name(), backend.name(), res.outcome);
                r.chat.push(res);
                cool_down().await;
            }
        }
    }
    if has(Scenario::Cluster) {
        for &k in kinds {
            for bus in ["redis", "nats"] {
                let res = cluster(env, k, bus, &sizes).await;
                eprintln!("cluster {} over {bus}: {:?}", k.name(), res.outcome);
                r.cluster.push(res);
                cool_down().await;
            }
        }
    }
    if has(Scenario::Resume) {
        for &k in kinds {
            let res = match missing(env, k) {
                Some(why) => ResumeResult::unavailable(k, why),
                None => resume::run(env, k, sizes.resume_clients, sizes.resume_missed).await,
            };
            eprintln!("resume {}: {:?}", k.name(), res.outcome);
            r.resume.push(res);
            cool_down().await;
        }
    }
    Ok(r)
}

/// Nodes in the cluster scenario.
const CLUSTER_NODES: usize = 2;

/// Runtime threads per cluster node: the nodes share the machine's cores,
/// as nodes sharing one host would be deployed, rather than each running a
/// thread per core.
fn cluster_worker_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / CLUSTER_NODES).max(1)
}

async fn cluster(env: &Env, kind: Kind, bus: &str, sizes: &Sizes) -> FanoutResult {
    let setup = format!("2 nodes over {bus}");
    let subs = sizes.cluster_subs;
    if let Some(why) = missing(env, kind) {
        return unavailable_fanout(kind, &setup, subs, &why);
    }
    match (kind, bus) {
        (Kind::SocketIo, "nats") => {
            return unavailable_fanout(
                kind,
                &setup,
                subs,
                "Socket.IO has no official NATS adapter",
            );
        }
        (Kind::Socketioxide, "nats") => {
            return unavailable_fanout(kind, &setup, subs, "socketioxide has no NATS adapter");
        }
        (Kind::Raw, _) => {
            return unavailable_fanout(kind, &setup, subs, "the raw ceiling is single-process");
        }
        _ => {}
    }
    let service = match bus {
        "redis" => servers::start_redis(&env.scratch),
        _ => servers::start_nats(&env.scratch),
    };
    let service = match service {
        Ok(s) => s,
        Err(e) => {
            return FanoutResult {
                outcome: Outcome::Failed(format!("{e:#}")),
                ..unavailable_fanout(kind, &setup, subs, "")
            };
        }
    };
    let mut nodes: Vec<Server> = Vec::new();
    for i in 0..CLUSTER_NODES {
        let opts = Options {
            redis_url: (bus == "redis").then(|| service.url.clone()),
            nats_url: (bus == "nats").then(|| service.url.clone()),
            node_id: Some(format!("node-{i}")),
            worker_threads: Some(cluster_worker_threads()),
            ..Options::default()
        };
        match servers::start(env, kind, &opts) {
            Ok(s) => nodes.push(s),
            Err(e) => {
                return FanoutResult {
                    outcome: Outcome::Failed(format!("{e:#}")),
                    ..unavailable_fanout(kind, &setup, subs, "")
                };
            }
        }
    }
    let res = fanout::run(env, kind, &setup, &nodes, &sizes.plan(subs)).await;
    drop(nodes);
    drop(service);
    res
}

fn skipped_idle(kind: Kind, target: u64, why: String) -> IdleResult {
    IdleResult {
        kind,
        outcome: Outcome::Unavailable(why),
        target,
        connected: 0,
        connects_per_s: 0.0,
        rss_before: 0,
        rss_after: 0,
        rss_per_conn: 0.0,
        idle_cpu_pct: 0.0,
    }
}

/// Waits between runs until the machine is quiet: at least 2 s, then until
/// a half-second window shows the cores less than [`QUIET`] busy, for at
/// most 30 s. Tearing down 19k connections keeps the kernel busy for
/// seconds, and the next server's first step would pay for it.
async fn cool_down() {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let give_up = Instant::now() + Duration::from_secs(30);
    while Instant::now() < give_up {
        let Some(a) = procstat::machine_ticks() else {
            return;
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some(b) = procstat::machine_ticks() else {
            return;
        };
        let busy = b.0.saturating_sub(a.0) as f64 / b.1.saturating_sub(a.1).max(1) as f64;
        if busy < QUIET {
            return;
        }
    }
    eprintln!("  the machine is still busy after 30 s; going on");
}

/// The share of all cores under which the machine counts as quiet.
const QUIET: f64 = 0.10;

/// Where the report and plot go by default.
pub fn default_out() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks.md")
}
