//! Server CPU per delivery and p99 at equal offered load: the issue's
//! efficiency targets (CPU per delivery ≤ ½ socketioxide's and ≤ 1/10 of
//! Socket.IO's; p99 ≤ ½ socketioxide's), from the fan-out steps. The
//! user-space part of the CPU is shown on its own: it is what a server's
//! code decides, while the kernel's part is mostly loopback TCP, which
//! every server pays alike per write.

use std::fmt::Write;

use crate::coord::servers::Kind;
use crate::scenario::{FanoutResult, Outcome, Step};

/// Server CPU time per delivery in a step, µs.
pub fn cpu_us_per_delivery(step: &Step) -> Option<f64> {
    per_delivery(step, step.server_cpu_pct)
}

/// Server user-space CPU time per delivery in a step, µs; `None` when
/// none was measured (too few clock ticks, or a result from before the
/// split was recorded).
pub fn user_cpu_us_per_delivery(step: &Step) -> Option<f64> {
    per_delivery(step, step.server_user_cpu_pct).filter(|us| *us > 0.0)
}

fn per_delivery(step: &Step, cpu_pct: f64) -> Option<f64> {
    (step.deliveries_per_s > 0.0).then(|| cpu_pct / 100.0 * 1e6 / step.deliveries_per_s)
}

/// One step both servers completed, side by side.
struct Row<'a> {
    subscribers: u64,
    offered: f64,
    peer: Kind,
    ours: &'a Step,
    theirs: &'a Step,
    cpu: (f64, f64),
    user: Option<(f64, f64)>,
}

impl Row<'_> {
    fn cpu_ratio(&self) -> f64 {
        self.cpu.0 / self.cpu.1
    }

    fn user_ratio(&self) -> Option<f64> {
        self.user.map(|(a, b)| a / b)
    }

    fn p99_ratio(&self) -> f64 {
        self.ours.p99_ms / self.theirs.p99_ms
    }
}

/// Every step Chinwag and a peer both completed without loss, at the same
/// rate, in the single-node fan-out runs.
fn rows(runs: &[FanoutResult]) -> Vec<Row<'_>> {
    let single: Vec<&FanoutResult> = runs.iter().filter(|r| r.setup == "single").collect();
    let mut rows = Vec::new();
    for ours in single.iter().filter(|r| r.kind == Kind::Chinwag) {
        for peer in single
            .iter()
            .filter(|r| r.subscribers == ours.subscribers && r.kind != Kind::Chinwag)
        {
            for step in ours.steps.iter().filter(|s| s.outcome == Outcome::Ok) {
                let Some(theirs) = peer.step_at(step.rate) else {
                    continue;
                };
                let (Some(a), Some(b)) = (cpu_us_per_delivery(step), cpu_us_per_delivery(theirs))
                else {
                    continue;
                };
                let user = user_cpu_us_per_delivery(step).zip(user_cpu_us_per_delivery(theirs));
                rows.push(Row {
                    subscribers: ours.subscribers,
                    offered: step.rate * ours.subscribers as f64,
                    peer: peer.kind,
                    ours: step,
                    theirs,
                    cpu: (a, b),
                    user,
                });
            }
        }
    }
    rows
}

/// The median of `values` (`None` when empty).
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

fn times(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.2}×"))
}

/// Writes the efficiency tables for the single-node fan-out runs: the
/// median ratios per room size and peer, then every step.
pub fn section(o: &mut String, runs: &[FanoutResult]) {
    let rows = rows(runs);
    if rows.is_empty() {
        let _ = writeln!(o, "Not run.\n");
        return;
    }
    let _ = writeln!(
        o,
        "Server CPU time per delivery (CPU % ÷ deliveries/s) and p99, at the same publish rate, \
         for every step both servers completed without loss. Targets: CPU per delivery at most \
         0.5× socketioxide's and 0.1× Socket.IO's; p99 at most 0.5× socketioxide's. \
         *User* is the part of that CPU spent in the server's own code (`utime`); the rest \
         (`stime`) is the kernel working for it, on loopback mostly TCP send plus the receiving \
         socket's input and the client's wake-up, which the sender pays. The kernel samples the \
         split at each 10 ms clock tick, so one step's user figure varies by about a third \
         between identical runs; read the medians.\n"
    );
    let _ = writeln!(
        o,
        "| subscribers | peer | steps compared | median CPU ratio | median user ratio | median p99 ratio |\n|---|---|---|---|---|---|"
    );
    // `rows` come grouped by room size, then peer.
    let mut groups: Vec<(u64, Kind)> = rows.iter().map(|r| (r.subscribers, r.peer)).collect();
    groups.dedup();
    for (subscribers, peer) in groups {
        let group: Vec<&Row> = rows
            .iter()
            .filter(|r| r.subscribers == subscribers && r.peer == peer)
            .collect();
        let _ = writeln!(
            o,
            "| {subscribers} | {} | {} | {} | {} | {} |",
            peer.name(),
            group.len(),
            times(median(group.iter().map(|r| r.cpu_ratio()).collect())),
            times(median(
                group.iter().filter_map(|r| r.user_ratio()).collect()
            )),
            times(median(group.iter().map(|r| r.p99_ratio()).collect())),
        );
    }
    let _ = writeln!(
        o,
        "\n| subscribers | offered deliveries/s | peer | Chinwag CPU/delivery | peer CPU/delivery | CPU ratio | Chinwag user | peer user | user ratio | Chinwag p99 | peer p99 | p99 ratio |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let us = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.2} µs"));
    for r in &rows {
        let _ = writeln!(
            o,
            "| {} | {:.0} | {} | {:.2} µs | {:.2} µs | {:.2}× | {} | {} | {} | {:.1} ms | {:.1} ms | {:.2}× |",
            r.subscribers,
            r.offered,
            r.peer.name(),
            r.cpu.0,
            r.cpu.1,
            r.cpu_ratio(),
            us(r.user.map(|u| u.0)),
            us(r.user.map(|u| u.1)),
            times(r.user_ratio()),
            r.ours.p99_ms,
            r.theirs.p99_ms,
            r.p99_ratio(),
        );
    }
    let _ = writeln!(o);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_per_delivery_is_cpu_seconds_over_deliveries() {
        // Half a core for 100k deliveries/s is 5 µs each.
        assert_eq!(
            cpu_us_per_delivery(&Step::sample(100.0, 100_000.0, 50.0)),
            Some(5.0)
        );
        assert_eq!(cpu_us_per_delivery(&Step::sample(100.0, 0.0, 50.0)), None);
        let mut step = Step::sample(100.0, 100_000.0, 50.0);
        step.server_user_cpu_pct = 10.0;
        assert_eq!(user_cpu_us_per_delivery(&step), Some(1.0));
        step.server_user_cpu_pct = 0.0;
        assert_eq!(user_cpu_us_per_delivery(&step), None);
    }

    #[test]
    fn only_steps_both_servers_completed_are_compared() {
        let run = |kind, steps| FanoutResult {
            kind,
            setup: "single".into(),
            subscribers: 1000,
            outcome: Outcome::Ok,
            steps,
        };
        let mut failed = Step::sample(200.0, 150_000.0, 90.0);
        failed.outcome = Outcome::Failed("lost".into());
        let runs = vec![
            run(
                Kind::Chinwag,
                vec![
                    Step::sample(100.0, 100_000.0, 20.0),
                    Step::sample(200.0, 200_000.0, 40.0),
                ],
            ),
            run(
                Kind::Socketioxide,
                vec![Step::sample(100.0, 100_000.0, 40.0), failed],
            ),
        ];
        let mut o = String::new();
        section(&mut o, &runs);
        assert!(
            o.contains(
                "| 1000 | 100000 | socketioxide | 2.00 µs | 4.00 µs | 0.50× | 0.50 µs | 1.00 µs | 0.50× |"
            ),
            "{o}"
        );
        assert!(!o.contains("| 200000 |"), "{o}");
        assert!(
            o.contains("| 1000 | socketioxide | 1 | 0.50× | 0.50× | 1.00× |"),
            "{o}"
        );
    }

    #[test]
    fn medians_take_the_middle() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }
}
