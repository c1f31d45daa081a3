//! The worker processes that hold the clients, driven over stdio.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::worker::{Cmd, Reply};

/// Most clients one worker process holds (each may open 20,000 files).
pub const MAX_PER_WORKER: u64 = 9_700;

struct Handle {
    child: Child,
    stdin: ChildStdin,
    replies: mpsc::UnboundedReceiver<Reply>,
    received: Arc<AtomicU64>,
    connected: Arc<AtomicU64>,
}

/// A set of worker processes.
pub struct Pool {
    workers: Vec<Handle>,
}

/// How many workers `clients` need: at least two (the machine has two
/// cores), and no more than [`MAX_PER_WORKER`] clients each.
pub fn workers_for(clients: u64) -> usize {
    clients.div_ceil(MAX_PER_WORKER).max(2) as usize
}

impl Pool {
    /// Starts `n` workers (this executable, `worker` subcommand).
    pub async fn spawn(n: usize) -> Result<Pool> {
        let exe = std::env::current_exe()?;
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            let mut child = Command::new(&exe)
                .arg("worker")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .context("starting a worker")?;
            let stdin = child.stdin.take().context("worker stdin")?;
            let stdout = child.stdout.take().context("worker stdout")?;
            let (tx, replies) = mpsc::unbounded_channel();
            let received = Arc::new(AtomicU64::new(0));
            let connected = Arc::new(AtomicU64::new(0));
            let (r, c) = (received.clone(), connected.clone());
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    match serde_json::from_str::<Reply>(&line) {
                        Ok(Reply::Tick {
                            received,
                            connected,
                        }) => {
                            r.store(received, Ordering::Relaxed);
                            c.store(connected, Ordering::Relaxed);
                        }
                        Ok(reply) => {
                            if tx.send(reply).is_err() {
                                break;
                            }
                        }
                        Err(e) => eprintln!("worker said something odd ({e}): {line}"),
                    }
                }
            });
            workers.push(Handle {
                child,
                stdin,
                replies,
                received,
                connected,
            });
        }
        Ok(Pool { workers })
    }

    /// How many workers.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// The workers' process ids.
    pub fn pids(&self) -> Vec<u32> {
        self.workers.iter().filter_map(|w| w.child.id()).collect()
    }

    /// Events received so far, from the latest ticks.
    pub fn live_received(&self) -> u64 {
        self.workers
            .iter()
            .map(|w| w.received.load(Ordering::Relaxed))
            .sum()
    }

    /// Clients connected now, from the latest ticks.
    pub fn live_connected(&self) -> u64 {
        self.workers
            .iter()
            .map(|w| w.connected.load(Ordering::Relaxed))
            .sum()
    }

    /// Clones of the live counters, for the progress bar.
    pub fn meter(&self) -> super::progress::Meter {
        super::progress::Meter {
            received: self.workers.iter().map(|w| w.received.clone()).collect(),
            connected: self.workers.iter().map(|w| w.connected.clone()).collect(),
        }
    }

    /// Sends each worker its command (`cmd(i)`), then collects every reply.
    pub async fn all(
        &mut self,
        cmd: impl Fn(usize) -> Cmd,
        timeout: Duration,
    ) -> Result<Vec<Reply>> {
        self.send(cmd).await?;
        self.collect(timeout).await
    }

    /// Sends each worker its command (`cmd(i)`) without waiting.
    pub async fn send(&mut self, cmd: impl Fn(usize) -> Cmd) -> Result<()> {
        for (i, w) in self.workers.iter_mut().enumerate() {
            let mut line = serde_json::to_vec(&cmd(i))?;
            line.push(b'\n');
            w.stdin.write_all(&line).await?;
            w.stdin.flush().await?;
        }
        Ok(())
    }

    /// One reply from every worker, in order.
    pub async fn collect(&mut self, timeout: Duration) -> Result<Vec<Reply>> {
        let mut out = Vec::with_capacity(self.workers.len());
        for w in &mut self.workers {
            match tokio::time::timeout(timeout, w.replies.recv()).await {
                Ok(Some(r)) => out.push(r),
                Ok(None) => bail!("a worker died"),
                Err(_) => bail!("a worker did not answer within {timeout:?}"),
            }
        }
        Ok(out)
    }
}
