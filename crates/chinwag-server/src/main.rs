//! The `chinwag` binary: parses config, starts tracing, runs the server.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use chinwag_server::{AppState, Config, Server};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "chinwag", version, about = "The Chinwag chat server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// A TOML config file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on (default 127.0.0.1:7400).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Data directory (default ./data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Database URL (sqlite://... or postgres://...).
        #[arg(long)]
        database_url: Option<String>,
        /// Engine: memory, redis://... or nats://...
        #[arg(long)]
        engine: Option<String>,
        /// This node's name.
        #[arg(long)]
        node_name: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,chinwag=info".into()),
        )
        // Colour codes only on a terminal, not in a log file or journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "chinwag starting");
    let Command::Serve {
        config,
        listen,
        data_dir,
        database_url,
        engine,
        node_name,
    } = Cli::parse().command;
    if let Some(file) = &config {
        let unknown = Config::unknown_keys_in(file).context("reading the config file")?;
        anyhow::ensure!(
            unknown.is_empty(),
            "{}: no such setting: {}",
            file.display(),
            unknown.join(", ")
        );
    }
    let mut config = Config::load(config.as_deref()).context("loading configuration")?;
    for variable in Config::unknown_env_vars().context("reading the environment")? {
        tracing::warn!(%variable, "no such setting; the variable is ignored");
    }
    if let Some(listen) = listen {
        config.listen = listen;
    }
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    if database_url.is_some() {
        config.database_url = database_url;
    }
    if let Some(engine) = engine {
        config.engine = engine;
    }
    if node_name.is_some() {
        config.node_name = node_name;
    }
    config
        .check()
        .map_err(|why| anyhow::anyhow!("invalid configuration: {why}"))?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let listen = config.listen;
    chinwag_server::gateway::capacity::raise_open_file_limit();
    let state = AppState::open(config).await?;
    let server = Server::bind(listen, state)
        .await
        .with_context(|| format!("binding {listen}"))?;
    server.run(shutdown_signal()).await?;
    Ok(())
}

/// Resolves at the first SIGINT or SIGTERM, so the server drains; a
/// second one exits at once.
async fn shutdown_signal() {
    next_signal().await;
    tracing::info!("signal received: draining (a second signal exits at once)");
    tokio::spawn(async {
        next_signal().await;
        tracing::warn!("second signal: exiting without finishing the drain");
        std::process::exit(130);
    });
}

async fn next_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
