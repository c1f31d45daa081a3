//! CPU time and memory of a process, from `/proc/<pid>/stat` and `status`.

use std::time::Instant;

/// A sample of a process's (and optionally its children's) resources.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When it was taken.
    pub at: Instant,
    /// User plus system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// User CPU time alone (the process's own code, not the kernel's work
    /// on its behalf), in clock ticks.
    pub user_ticks: u64,
    /// Resident set size, in bytes.
    pub rss_bytes: u64,
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux x86/arm).
pub const TICKS_PER_SEC: f64 = 100.0;

/// `(utime, stime)` from a `/proc/<pid>/stat` line.
pub fn parse_stat_cpu(stat: &str) -> Option<(u64, u64)> {
    // The command name may contain spaces: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3 overall; utime is 14, stime 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime, stime))
}

/// `VmRSS` in bytes from a `/proc/<pid>/status` text.
pub fn parse_status_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Samples the given processes and sums them.
pub fn sample(pids: &[u32]) -> Sample {
    let mut s = Sample {
        at: Instant::now(),
        cpu_ticks: 0,
        user_ticks: 0,
        rss_bytes: 0,
    };
    for pid in pids {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            let (user, system) = parse_stat_cpu(&stat).unwrap_or((0, 0));
            s.cpu_ticks += user + system;
            s.user_ticks += user;
        }
        if let Ok(st) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            s.rss_bytes += parse_status_rss(&st).unwrap_or(0);
        }
    }
    s
}

/// CPU use between two samples, in percent of one core.
pub fn cpu_percent(a: &Sample, b: &Sample) -> f64 {
    percent_of_core(a, b, b.cpu_ticks.saturating_sub(a.cpu_ticks))
}

/// User CPU use between two samples, in percent of one core.
pub fn user_cpu_percent(a: &Sample, b: &Sample) -> f64 {
    percent_of_core(a, b, b.user_ticks.saturating_sub(a.user_ticks))
}

fn percent_of_core(a: &Sample, b: &Sample, ticks: u64) -> f64 {
    let secs = b.at.duration_since(a.at).as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    ticks as f64 / TICKS_PER_SEC / secs * 100.0
}

/// The whole machine's CPU ticks from the first line of `/proc/stat`:
/// `(busy, total)`, where idle and I/O wait are not busy.
pub fn parse_machine_ticks(proc_stat: &str) -> Option<(u64, u64)> {
    let line = proc_stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = ticks.iter().sum();
    let idle = ticks.get(3)? + ticks.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// The machine's busy and total CPU ticks now, if `/proc/stat` is readable.
pub fn machine_ticks() -> Option<(u64, u64)> {
    parse_machine_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_machine_ticks() {
        let stat = "cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\n";
        assert_eq!(parse_machine_ticks(stat), Some((160, 1000)));
        assert_eq!(parse_machine_ticks("intr 1 2 3\n"), None);
    }

    #[test]
    fn parses_stat_with_spaces_in_name() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0 100 1000 200";
        assert_eq!(parse_stat_cpu(stat), Some((250, 75)));
    }

    #[test]
    fn parses_rss() {
        let status = "Name:\tx\nVmPeak:\t  1000 kB\nVmRSS:\t    2048 kB\nThreads:\t1\n";
        assert_eq!(parse_status_rss(status), Some(2048 * 1024));
    }

    #[test]
    fn reads_own_process() {
        let s = sample(&[std::process::id()]);
        assert!(s.rss_bytes > 0);
        assert!(s.user_ticks <= s.cpu_ticks);
    }

    #[test]
    fn user_share_is_a_part_of_the_total() {
        let at = Instant::now();
        let a = Sample {
            at,
            cpu_ticks: 100,
            user_ticks: 40,
            rss_bytes: 0,
        };
        let b = Sample {
            at: at + std::time::Duration::from_secs(2),
            cpu_ticks: 300,
            user_ticks: 90,
            rss_bytes: 0,
        };
        assert_eq!(cpu_percent(&a, &b), 100.0);
        assert_eq!(user_cpu_percent(&a, &b), 25.0);
    }
}
