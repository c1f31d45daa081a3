//! `GET /metrics`: this node's counters and gauges in the Prometheus text
//! exposition format (version 0.0.4), for a scraper; `metrics = false`
//! turns the route off.
//!
//! Everything here is read at scrape time from state the node keeps anyway
//! (connection slots, the hub's rooms and fan-out counts, pending presence
//! checks, `/proc/self`), or counted where it is rare (a session opened or
//! closed, an HTTP response). The fan-out adds once per frame, not once per
//! recipient.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use chinwag_realtime::Engine as _;

use crate::AppState;

/// Counts kept for the metrics that nothing else keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    sessions_opened: AtomicU64,
    /// Sessions ended, by the close code the server sent.
    closes: Mutex<BTreeMap<u16, u64>>,
    /// HTTP responses by status class (1xx..5xx).
    responses: [AtomicU64; 5],
}

impl Metrics {
    /// A WebSocket session was identified.
    pub fn session_opened(&self) {
        self.sessions_opened.fetch_add(1, Ordering::Relaxed);
    }

    /// The server closed a session with `code`.
    pub fn session_closed(&self, code: u16) {
        let mut closes = self.closes.lock().unwrap_or_else(|e| e.into_inner());
        *closes.entry(code).or_default() += 1;
    }

    fn response(&self, status: u16) {
        if let Some(class) = (status / 100)
            .checked_sub(1)
            .and_then(|i| self.responses.get(i as usize))
        {
            class.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Middleware counting every HTTP response by status class.
pub async fn count_responses(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    state.metrics.response(response.status().as_u16());
    response
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&state),
    )
}

/// One metric family: `# HELP`, `# TYPE`, then a sample per label set.
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn one(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.head(name, kind, help);
        let _ = writeln!(self.out, "{name} {value}");
    }

    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn labelled(&mut self, name: &str, label: &str, value: &str, sample: u64) {
        let _ = writeln!(self.out, "{name}{{{label}=\"{value}\"}} {sample}");
    }
}

fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(4096);
    let mut m = Family { out: &mut out };
    let hub = &state.hub;
    let local = hub.local();
    let metrics = &state.metrics;

    m.head(
        "chinwag_node_info",
        "gauge",
        "This node: its name and engine (always 1).",
    );
    let _ = writeln!(
        m.out,
        "chinwag_node_info{{node=\"{}\",engine=\"{}\",version=\"{}\"}} 1",
        escape(hub.node().name()),
        hub.engine().name(),
        env!("CARGO_PKG_VERSION"),
    );
    m.one(
        "chinwag_ws_connections",
        "gauge",
        "WebSocket connections holding a slot (identified or not).",
        state.capacity.in_use(),
    );
    m.one(
        "chinwag_ws_connections_max",
        "gauge",
        "The most WebSocket connections this node holds (gateway.max_connections).",
        state.capacity.max(),
    );
    m.one(
        "chinwag_ws_sessions",
        "gauge",
        "Identified connections registered in the hub.",
        local.conn_count(),
    );
    m.one(
        "chinwag_ws_sessions_opened_total",
        "counter",
        "Connections identified since the node started.",
        metrics.sessions_opened.load(Ordering::Relaxed),
    );
    m.head(
        "chinwag_ws_closes_total",
        "counter",
        "Connections the server closed, by close code (4010: slow consumer, 4008: rate limited, 4009: heartbeat timeout, 4011: shutdown).",
    );
    for (code, count) in metrics
        .closes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        m.labelled("chinwag_ws_closes_total", "code", &code.to_string(), *count);
    }
    m.one(
        "chinwag_rooms",
        "gauge",
        "Rooms with members on this node.",
        local.room_count(),
    );
    let stats = local.stats();
    m.one(
        "chinwag_frames_fanned_out_total",
        "counter",
        "Event frames this node fanned out to its connections (each once, local recipients or not).",
        stats.frames.load(Ordering::Relaxed),
    );
    m.one(
        "chinwag_deliveries_total",
        "counter",
        "Event deliveries offered to this node's connections (a frame once per recipient; an overflowing outbox drops some, see chinwag_ws_closes_total 4010).",
        stats.deliveries.load(Ordering::Relaxed),
    );
    m.one(
        "chinwag_presence_offline_checks_pending",
        "gauge",
        "Offline checks waiting out the presence grace period.",
        state.presence.pending(),
    );
    m.head(
        "chinwag_http_responses_total",
        "counter",
        "HTTP responses by status class (101 for WebSocket upgrades).",
    );
    for (i, class) in metrics.responses.iter().enumerate() {
        let name = format!("{}xx", i + 1);
        m.labelled(
            "chinwag_http_responses_total",
            "class",
            &name,
            class.load(Ordering::Relaxed),
        );
    }
    process(&mut m);
    out
}

/// The standard `process_*` metrics, where `/proc/self` has them (Linux).
fn process(m: &mut Family<'_>) {
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // The fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
        // utime and stime are fields 14 and 15 of the line, in clock ticks.
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
            m.one(
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time spent, in seconds.",
                (user + system) as f64 / USER_HZ,
            );
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
        if let Some(kib) = rss_kib {
            m.one(
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                kib * 1024,
            );
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        m.one(
            "process_open_fds",
            "gauge",
            "Open file descriptors.",
            fds.count(),
        );
    }
}

/// The clock ticks per second of `/proc` times: 100 in Linux's ABI on
/// every architecture, whatever the kernel's own tick rate.
const USER_HZ: f64 = 100.0;

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
