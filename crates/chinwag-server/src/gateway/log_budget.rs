//! [`LogBudget`]: a cap on how many lines a second one kind of log line may
//! take. It is for lines any client can cause without signing in (a
//! refused token, a missing identify, a protocol error): past the cap they
//! are counted instead of written, and the next line written says how many
//! were left out, so a flood of bad connections cannot flood the log.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Lines of one kind allowed per second.
#[derive(Debug)]
pub struct LogBudget {
    per_second: u32,
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Option<Instant>,
    written: u32,
    left_out: u64,
}

impl LogBudget {
    /// A budget of `per_second` lines; usable in a `static`.
    pub const fn per_second(per_second: u32) -> LogBudget {
        LogBudget {
            per_second,
            state: Mutex::new(Window {
                started: None,
                written: 0,
                left_out: 0,
            }),
        }
    }

    /// Whether to write a line now: `Some` with the number of lines left
    /// out since the last one written, or `None` to leave this one out.
    pub fn take(&self) -> Option<u64> {
        let now = Instant::now();
        let mut window = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if window
            .started
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            window.started = Some(now);
            window.written = 0;
        }
        if window.written < self.per_second {
            window.written += 1;
            Some(std::mem::take(&mut window.left_out))
        } else {
            window.left_out += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn lines_past_the_budget_are_counted_and_reported_next() {
        let budget = LogBudget::per_second(3);
        let first: Vec<_> = (0..5).map(|_| budget.take()).collect();
        assert_eq!(first, [Some(0), Some(0), Some(0), None, None]);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(budget.take(), Some(2), "the two left out are reported");
        assert_eq!(budget.take(), Some(0));
    }
}
