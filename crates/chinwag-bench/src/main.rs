//! `chinwag-bench`: compare Chinwag with its peers and write
//! `docs/benchmarks.md`. See `chinwag-bench --help`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chinwag_bench::compare::{self, Results, Scenario, Sizes};
use chinwag_bench::coord::servers::{Env, Kind};
use chinwag_bench::scenario::chat::Backend;
use chinwag_bench::{report, worker};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Chinwag load generator and comparison")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the comparison and write the report.
    Compare {
        /// Small counts and short steps (a few minutes in all).
        #[arg(long)]
        quick: bool,
        /// Servers to run (default: all).
        #[arg(long, value_delimiter = ',')]
        servers: Vec<Kind>,
        /// Scenarios to run (default: all).
        #[arg(long, value_delimiter = ',')]
        scenarios: Vec<Scenario>,
        /// Where to write the report (the plot goes beside it).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The chinwag binary (default: next to this one).
        #[arg(long)]
        chinwag_bin: Option<PathBuf>,
        /// Fan-out room sizes instead of the mode's (e.g. `10000`).
        #[arg(long, value_delimiter = ',')]
        fanout_subs: Vec<u64>,
        /// Delivery steps per second for the fan-out and cluster scenarios
        /// instead of the mode's.
        #[arg(long, value_delimiter = ',')]
        deliveries: Vec<f64>,
        /// Chat databases instead of both (`sqlite,postgres`).
        #[arg(long, value_delimiter = ',')]
        databases: Vec<Backend>,
    },
    /// Re-render the report from a results file.
    Report {
        /// The results `compare` wrote beside its report (`docs/benchmarks.json`).
        results: PathBuf,
        /// Where to write the report.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Internal: a client-holding worker process.
    #[command(hide = true)]
    Worker,
}

fn env(chinwag_bin: Option<PathBuf>) -> Result<Env> {
    let exe = std::env::current_exe()?;
    let bin_dir = exe.parent().context("exe dir")?.to_path_buf();
    let chinwag_bin = chinwag_bin.or_else(|| Some(bin_dir.join("chinwag")).filter(|p| p.exists()));
    let scratch = std::env::temp_dir().join(format!("chinwag-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let secret: String = {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        (0..32)
            .map(|_| rng.sample(rand::distributions::Alphanumeric) as char)
            .collect()
    };
    Ok(Env {
        chinwag_bin,
        bin_dir,
        node_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/socketio"),
        scratch,
        secret,
    })
}

fn write_report(results: &Results, out: PathBuf) -> Result<()> {
    let svg_name = format!(
        "{}-latency.svg",
        out.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("benchmarks")
    );
    let svg_path = out.with_file_name(&svg_name);
    std::fs::write(&svg_path, report::plot(results))?;
    std::fs::write(&out, report::markdown(results, &svg_name))?;
    eprintln!("wrote {} and {}", out.display(), svg_path.display());
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Worker => worker::run(),
        Cmd::Report { results, out } => {
            let r: Results = serde_json::from_str(&std::fs::read_to_string(results)?)?;
            write_report(&r, out.unwrap_or_else(compare::default_out))
        }
        Cmd::Compare {
            quick,
            servers,
            scenarios,
            out,
            chinwag_bin,
            fanout_subs,
            deliveries,
            databases,
        } => {
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let env = env(chinwag_bin)?;
            let mut sizes = if quick { Sizes::quick() } else { Sizes::full() };
            if !fanout_subs.is_empty() {
                sizes.fanout_subs = fanout_subs;
            }
            if !deliveries.is_empty() {
                sizes.deliveries = deliveries;
            }
            if !databases.is_empty() {
                sizes.chat_backends = databases;
            }
            let kinds = if servers.is_empty() {
                Kind::ALL.to_vec()
            } else {
                servers
            };
            let scenarios = if scenarios.is_empty() {
                vec![
                    Scenario::Idle,
                    Scenario::Fanout,
                    Scenario::Chat,
                    Scenario::Cluster,
                    Scenario::Resume,
                ]
            } else {
                scenarios
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let results = rt.block_on(compare::run(&env, sizes, &kinds, &scenarios, command))?;
            let _ = std::fs::remove_dir_all(&env.scratch);
            let out = out.unwrap_or_else(compare::default_out);
            // Beside the report, so that no other run overwrites the
            // numbers a report was made from.
            let json = out.with_extension("json");
            std::fs::write(&json, serde_json::to_string_pretty(&results)?)?;
            eprintln!("wrote {}", json.display());
            write_report(&results, out)
        }
    }
}
