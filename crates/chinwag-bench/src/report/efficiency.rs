//! Server CPU per delivery and p99 at equal offered load: the issue's
//! efficiency targets (CPU per delivery ≤ ½ socketioxide's and ≤ 1/10 of
//! Socket.IO's; p99 ≤ ½ socketioxide's), from the fan-out steps.

use std::fmt::Write;

use crate::coord::servers::Kind;
use crate::scenario::{FanoutResult, Outcome, Step};

/// Server CPU time per delivery in a step, µs.
pub fn cpu_us_per_delivery(step: &Step) -> Option<f64> {
    (step.deliveries_per_s > 0.0).then(|| step.server_cpu_pct / 100.0 * 1e6 / step.deliveries_per_s)
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
         0.5× socketioxide's and 0.1× Socket.IO's; p99 at most 0.5× socketioxide's.\n"
    );
    let _ = writeln!(
        o,
        "| subscribers | offered deliveries/s | peer | Chinwag CPU/delivery | peer CPU/delivery | CPU ratio | Chinwag p99 | peer p99 | p99 ratio |\n|---|---|---|---|---|---|---|---|---|"
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
                let _ = writeln!(
                    o,
                    "| {} | {:.0} | {} | {a:.2} µs | {b:.2} µs | {:.2}× | {:.1} ms | {:.1} ms | {:.2}× |",
                    ours.subscribers,
                    step.rate * ours.subscribers as f64,
                    peer.kind.name(),
                    a / b,
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
            o.contains("| 1000 | 100000 | socketioxide | 2.00 µs | 4.00 µs | 0.50× |"),
            "{o}"
        );
        assert!(!o.contains("| 200000 |"), "{o}");
    }
}
