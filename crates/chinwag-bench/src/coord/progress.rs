//! The live progress bar: connected clients and deliveries per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::pool::Pool;

/// A bar that samples the pool's live counters until dropped.
pub struct Progress {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
}

impl Progress {
    /// Starts a spinner labelled `label`.
    pub fn start(label: &str, pool: &Pool) -> Progress {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {prefix:.bold} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        let stop = Arc::new(AtomicBool::new(false));
        let counters = pool.meter();
        let (b, s) = (bar.clone(), stop.clone());
        tokio::spawn(async move {
            let mut last = (Instant::now(), counters.received());
            let mut rate = 0.0;
            while !s.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let now = (Instant::now(), counters.received());
                let dt = now.0.duration_since(last.0).as_secs_f64();
                if dt > 0.0 {
                    rate = (now.1 - last.1) as f64 / dt;
                }
                last = now;
                b.set_message(format!(
                    "| connected {:>6} | received {:>10} | {:>10.0} deliveries/s",
                    counters.connected(),
                    now.1,
                    rate
                ));
            }
        });
        Progress { bar, stop }
    }

    /// Prints a line above the bar.
    pub fn println(&self, line: impl AsRef<str>) {
        if self.bar.is_hidden() {
            eprintln!("{}", line.as_ref());
        } else {
            self.bar.println(line);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.bar.finish_and_clear();
    }
}

/// Clones of a pool's live counters.
pub struct Meter {
    pub(super) received: Vec<Arc<AtomicU64>>,
    pub(super) connected: Vec<Arc<AtomicU64>>,
}

impl Meter {
    /// Events received so far.
    pub fn received(&self) -> u64 {
        self.received
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .sum()
    }

    /// Clients connected now.
    pub fn connected(&self) -> u64 {
        self.connected
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .sum()
    }
}
