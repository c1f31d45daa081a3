//! The cluster against one node: each server's two-node throughput as a
//! share of its single-node best, and the latency the second node adds at
//! equal offered load (the cluster questions).

use std::fmt::Write;

use crate::scenario::{FanoutResult, Outcome, Step};

/// The p99 budget of a "best" rate, ms.
const BUDGET_MS: f64 = 100.0;

/// Writes the table comparing each cluster run with the same server's
/// single-node run of the same size.
pub fn section(o: &mut String, fanout: &[FanoutResult], cluster: &[FanoutResult]) {
    let pairs: Vec<(&FanoutResult, &FanoutResult)> = cluster
        .iter()
        .filter(|c| !c.steps.is_empty())
        .filter_map(|c| {
            let one = fanout.iter().find(|f| {
                f.setup == "single" && f.kind == c.kind && f.subscribers == c.subscribers
            })?;
            Some((c, one))
        })
        .collect();
    if pairs.is_empty() {
        let _ = writeln!(
            o,
            "No cluster run has a single-node run of the same size to compare with.\n"
        );
        return;
    }
    let _ = writeln!(
        o,
        "Each cluster run against the same server on one node with as many subscribers \
         (section 2). Share: the best rate with every event delivered and p99 under 100 ms, \
         two nodes ÷ one node. Added latency: two nodes minus one node, p50 / p99, at the \
         lightest step both completed, and at the heaviest step both completed under 100 ms.\n"
    );
    let _ = writeln!(
        o,
        "| server | setup | best, 2 nodes | best, 1 node | share of one node | added p50 / p99, lightest step | added p50 / p99, heaviest common step |\n|---|---|---|---|---|---|---|"
    );
    for (two, one) in pairs {
        let (best_two, best_one) = (super::best_of(two), super::best_of(one));
        let share = match (best_two, best_one) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.0}%", a / b * 100.0),
            _ => "–".into(),
        };
        let common: Vec<(&Step, &Step)> = two
            .steps
            .iter()
            .filter(|s| s.outcome == Outcome::Ok)
            .filter_map(|s| Some((s, one.step_at(s.rate)?)))
            .collect();
        let heaviest = common
            .iter()
            .rfind(|(a, b)| a.p99_ms < BUDGET_MS && b.p99_ms < BUDGET_MS);
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            two.kind.name(),
            two.setup,
            best_two.map_or("–".into(), super::rate),
            best_one.map_or("–".into(), super::rate),
            share,
            added(common.first()),
            added(heaviest),
        );
    }
    let _ = writeln!(o);
}

/// "+p50 / +p99 ms at deliveries/s" for a (two nodes, one node) pair of
/// steps at one publish rate.
fn added(pair: Option<&(&Step, &Step)>) -> String {
    match pair {
        Some((two, one)) => format!(
            "{:+.1} / {:+.1} ms at {}/s",
            two.p50_ms - one.p50_ms,
            two.p99_ms - one.p99_ms,
            super::rate(two.deliveries_per_s)
        ),
        None => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coord::servers::Kind;

    fn run(setup: &str, steps: Vec<Step>) -> FanoutResult {
        FanoutResult {
            kind: Kind::Chinwag,
            setup: setup.into(),
            subscribers: 1000,
            outcome: Outcome::Ok,
            steps,
        }
    }

    #[test]
    fn share_and_added_latency_come_from_matching_steps() {
        let mut slow = Step::sample(400.0, 400_000.0, 100.0);
        slow.p99_ms = 150.0;
        let mut far = Step::sample(100.0, 100_000.0, 50.0);
        (far.p50_ms, far.p99_ms) = (3.0, 40.0);
        let single = run(
            "single",
            vec![
                Step::sample(10.0, 10_000.0, 5.0),
                Step::sample(100.0, 100_000.0, 40.0),
                Step::sample(400.0, 400_000.0, 90.0),
            ],
        );
        let two = run(
            "2 nodes over redis",
            vec![Step::sample(10.0, 10_000.0, 6.0), far, slow],
        );
        let mut o = String::new();
        section(&mut o, &[single], &[two]);
        assert!(
            o.contains(
                "| Chinwag | 2 nodes over redis | 100.0 k | 400.0 k | 25% \
                 | +0.0 / +0.0 ms at 10.0 k/s | +2.0 / +30.0 ms at 100.0 k/s |"
            ),
            "{o}"
        );
    }
}
