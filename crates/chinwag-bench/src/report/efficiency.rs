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

/// Writes the efficiency table for the single-node fan-out runs.
pub fn section(o: &mut String, runs: &[FanoutResult]) {
    let single: Vec<&FanoutResult> = runs.iter().filter(|r| r.setup == "single").collect();
    let chinwag: Vec<&FanoutResult> = single
        .iter()
        .copied()
        .filter(|r| r.kind == Kind::Chinwag)
        .collect();
    if chinwag.is_empty() {
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
         socket's input and the client's wake-up, which the sender pays. Clock ticks are 10 ms, \
         so the user figures of the lightest steps are coarse.\n"
    );
    let _ = writeln!(
        o,
        "| subscribers | offered deliveries/s | peer | Chinwag CPU/delivery | peer CPU/delivery | CPU ratio | Chinwag user | peer user | user ratio | Chinwag p99 | peer p99 | p99 ratio |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for ours in chinwag {
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
                let (user_a, user_b) = (
                    user_cpu_us_per_delivery(step),
                    user_cpu_us_per_delivery(theirs),
                );
                let us = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.2} µs"));
                let user_ratio = match (user_a, user_b) {
                    (Some(a), Some(b)) => format!("{:.2}×", a / b),
                    _ => "–".into(),
                };
                let _ = writeln!(
                    o,
                    "| {} | {:.0} | {} | {a:.2} µs | {b:.2} µs | {:.2}× | {} | {} | {user_ratio} | {:.1} ms | {:.1} ms | {:.2}× |",
                    ours.subscribers,
                    step.rate * ours.subscribers as f64,
                    peer.kind.name(),
                    a / b,
                    us(user_a),
                    us(user_b),
                    step.p99_ms,
                    theirs.p99_ms,
                    step.p99_ms / theirs.p99_ms,
                );
            }
        }
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
    }
}
