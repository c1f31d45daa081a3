//! A load-generator worker process: it holds a shard of the clients on one
//! single-threaded runtime and takes commands as JSON lines on stdin,
//! answering (and ticking live counters) as JSON lines on stdout.
//!
//! # Layout
//! - this file: the pub/sub clients (fan-out, cluster, resume scenarios).
//! - [`chat`]: the chat scenario's clients and load driver.

pub mod chat;

use std::cell::RefCell;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Result;
use chinwag_protocol::StreamPos;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio::task::{JoinHandle, LocalSet, spawn_local};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Incoming, Proto, ResumeFrom, Ws};
use crate::hist::{Histogram, SparseHistogram};
use crate::jwt;

/// A command from the coordinator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "c", rename_all = "snake_case")]
pub enum Cmd {
    /// Open `count` clients with user ids from `first_uid`.
    Connect {
        /// Wire protocol.
        proto: Proto,
        /// Server address.
        addr: SocketAddr,
        /// JWT secret to mint tokens with.
        secret: String,
        /// First user id.
        first_uid: u64,
        /// How many clients.
        count: u64,
        /// Subscribe each to the bench topic.
        subscribe: bool,
        /// Handshakes in flight at once.
        concurrency: usize,
    },
    /// Start a new measurement window (empties the latency histogram).
    Reset,
    /// Report counters and the window's histogram.
    Report,
    /// Drop every connection abruptly, keeping each one's last position.
    Drop,
    /// Reconnect every dropped client with resume and wait until each has
    /// every event up to `target_seq`.
    Resume {
        /// The last seq published.
        target_seq: u64,
        /// Give up on a client after this long.
        timeout_ms: u64,
    },
    /// Chat: connect these users (each identifies with a minted token and
    /// joins its community and channel rooms). Answered with `connected`.
    ChatConnect {
        /// Server address.
        addr: SocketAddr,
        /// JWT secret to mint tokens with.
        secret: String,
        /// The users, whole rooms only.
        members: Vec<chat::Member>,
        /// Handshakes in flight at once.
        concurrency: usize,
    },
    /// Chat: run one load step. Answered with `chat_stepped`.
    ChatStep(chat::StepPlan),
}

/// A line from a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Reply {
    /// Live counters, every 500 ms.
    Tick {
        /// Events received so far.
        received: u64,
        /// Clients connected now.
        connected: u64,
    },
    /// `connect` finished.
    Connected {
        /// Clients that completed the handshake.
        ok: u64,
        /// Clients that failed.
        failed: u64,
        /// The first failure.
        first_error: Option<String>,
    },
    /// `reset` done.
    Ok,
    /// `report`.
    Stats(Stats),
    /// `drop` done.
    Dropped {
        /// Clients dropped.
        count: u64,
    },
    /// `resume` done.
    Resumed(ResumeStats),
    /// `chat_step` done.
    ChatStepped(Box<chat::StepStats>),
}

/// Counters since start, plus the current window's latency histogram.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Distinct events received.
    pub received: u64,
    /// Events received more than once.
    pub dups: u64,
    /// Events that arrived after a later one (order not kept).
    pub reordered: u64,
    /// Chinwag offsets that did not advance by exactly one.
    pub offset_errors: u64,
    /// `lagged` frames received.
    pub lagged: u64,
    /// Connections the server closed (or that failed) after the handshake.
    pub closed: u64,
    /// Chinwag connections closed with a resumable code (4010 slow consumer,
    /// 4011 shutdown) that reconnected and resumed without a resync.
    #[serde(default)]
    pub recovered: u64,
    /// Clients connected now.
    pub connected: u64,
    /// The first error seen.
    pub first_error: Option<String>,
    /// Latency (µs) in the current window.
    pub hist: SparseHistogram,
}

/// What a resume round found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResumeStats {
    /// Clients that tried.
    pub clients: u64,
    /// Clients that got every missed event exactly once.
    pub complete: u64,
    /// Missed events received in total.
    pub events: u64,
    /// Duplicates or out-of-order events.
    pub dups: u64,
    /// Clients whose resume reported a resync or a denied room.
    pub resync_or_denied: u64,
    /// Catch-up time per client, ms (from reconnect to the last event).
    pub catch_up_ms: Vec<u64>,
    /// The first error seen.
    pub first_error: Option<String>,
}

/// Longest a connect + authenticate + subscribe may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Shared {
    stats: Stats,
    hist: Histogram,
    handshakes: u64,
    failed: u64,
}

/// What one client knows, kept across a drop for the resume.
#[derive(Debug, Clone, Default)]
struct ClientState {
    uid: u64,
    token: String,
    src: Option<Ipv4Addr>,
    /// The highest seq seen.
    last_seq: u64,
    /// Bit `i` set: seq `last_seq - i` was seen (duplicate detection
    /// across reordering up to 128 back).
    window: u128,
    epoch: Option<String>,
    offset: u64,
    sio_pid: Option<String>,
    sio_offset: Option<String>,
}

struct Slot {
    kill: oneshot::Sender<()>,
    task: JoinHandle<ClientState>,
}

struct Worker {
    shared: Rc<RefCell<Shared>>,
    slots: Vec<Slot>,
    dropped: Vec<ClientState>,
    proto: Proto,
    addr: Option<SocketAddr>,
    chat: Option<chat::ChatWorker>,
}

fn emit(reply: &Reply) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, reply);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// Runs a worker until stdin closes.
pub fn run() -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    LocalSet::new().block_on(&rt, serve())
}

async fn serve() -> Result<()> {
    let shared = Rc::new(RefCell::new(Shared::default()));
    let ticker = shared.clone();
    spawn_local(async move {
        let mut iv = tokio::time::interval(Duration::from_millis(500));
        loop {
            iv.tick().await;
            let (received, connected) = {
                let s = ticker.borrow();
                (s.stats.received, s.stats.connected)
            };
            emit(&Reply::Tick {
                received,
                connected,
            });
        }
    });
    let mut w = Worker {
        shared,
        slots: Vec::new(),
        dropped: Vec::new(),
        proto: Proto::Chinwag,
        addr: None,
        chat: None,
    };
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let cmd: Cmd = serde_json::from_str(&line)?;
        let reply = w.handle(cmd).await?;
        emit(&reply);
    }
    Ok(())
}

/// Loopback source address for client `uid`, spread over 250 addresses.
fn source_ip(uid: u64) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1, 1 + (uid % 250) as u8)
}

impl Worker {
    async fn handle(&mut self, cmd: Cmd) -> Result<Reply> {
        Ok(match cmd {
            Cmd::Connect {
                proto,
                addr,
                secret,
                first_uid,
                count,
                subscribe,
                concurrency,
            } => {
                self.proto = proto;
                self.addr = Some(addr);
                let sem = Rc::new(Semaphore::new(concurrency.max(1)));
                let done = Rc::new(Notify::new());
                let target = {
                    let s = self.shared.borrow();
                    s.handshakes + count
                };
                for uid in first_uid..first_uid + count {
                    let state = ClientState {
                        uid,
                        token: jwt::mint(&secret, uid)?,
                        src: Some(source_ip(uid)),
                        ..Default::default()
                    };
                    let (kill, kill_rx) = oneshot::channel();
                    let task = spawn_local(client_task(
                        proto,
                        addr,
                        state,
                        subscribe,
                        sem.clone(),
                        self.shared.clone(),
                        done.clone(),
                        kill_rx,
                    ));
                    self.slots.push(Slot { kill, task });
                }
                loop {
                    let notified = done.notified();
                    if self.shared.borrow().handshakes >= target {
                        break;
                    }
                    notified.await;
                }
                let s = self.shared.borrow();
                Reply::Connected {
                    ok: s.stats.connected,
                    failed: s.failed,
                    first_error: s.stats.first_error.clone(),
                }
            }
            Cmd::Reset => {
                self.shared.borrow_mut().hist.reset();
                Reply::Ok
            }
            Cmd::Report => {
                let s = self.shared.borrow();
                let mut stats = s.stats.clone();
                stats.hist = s.hist.to_sparse();
                Reply::Stats(stats)
            }
            Cmd::Drop => {
                let slots = std::mem::take(&mut self.slots);
                let mut count = 0;
                for slot in slots {
                    let _ = slot.kill.send(());
                    if let Ok(state) = slot.task.await {
                        self.dropped.push(state);
                        count += 1;
                    }
                }
                Reply::Dropped { count }
            }
            Cmd::Resume {
                target_seq,
                timeout_ms,
            } => {
                let Some(addr) = self.addr else {
                    anyhow::bail!("resume before connect");
                };
                let sem = Rc::new(Semaphore::new(200));
                let tasks: Vec<_> = std::mem::take(&mut self.dropped)
                    .into_iter()
                    .map(|st| {
                        spawn_local(resume_task(
                            self.proto,
                            addr,
                            st,
                            target_seq,
                            Duration::from_millis(timeout_ms),
                            sem.clone(),
                        ))
                    })
                    .collect();
                let mut rs = ResumeStats::default();
                for t in tasks {
                    rs.clients += 1;
                    match t.await? {
                        Ok(r) => {
                            rs.events += r.events;
                            rs.dups += r.dups;
                            rs.resync_or_denied += u64::from(r.resync_or_denied);
                            if r.complete {
                                rs.complete += 1;
                                rs.catch_up_ms.push(r.elapsed.as_millis() as u64);
                            } else if rs.first_error.is_none() {
                                rs.first_error = Some(format!(
                                    "client got {} of the missed events{}",
                                    r.events,
                                    r.note.map(|n| format!(" ({n})")).unwrap_or_default()
                                ));
                            }
                        }
                        Err(e) => {
                            rs.first_error.get_or_insert_with(|| format!("{e:#}"));
                        }
                    }
                }
                Reply::Resumed(rs)
            }
            Cmd::ChatConnect {
                addr,
                secret,
                members,
                concurrency,
            } => {
                let (w, ok, failed, first_error) = chat::ChatWorker::connect(
                    self.shared.clone(),
                    addr,
                    &secret,
                    members,
                    concurrency,
                )
                .await?;
                self.chat = Some(w);
                Reply::Connected {
                    ok,
                    failed,
                    first_error,
                }
            }
            Cmd::ChatStep(plan) => {
                let Some(w) = self.chat.as_mut() else {
                    anyhow::bail!("chat_step before chat_connect");
                };
                Reply::ChatStepped(Box::new(w.step(&plan).await))
            }
        })
    }
}

/// Handles one received frame; returns whether the client should stop.
fn on_frame(
    proto: Proto,
    text: &str,
    st: &mut ClientState,
    shared: &RefCell<Shared>,
    record: bool,
) -> Option<&'static str> {
    match client::classify(proto, text) {
        Incoming::Event {
            seq,
            ts,
            offset,
            epoch,
            sio_offset,
        } => {
            let now = client::now_micros();
            let mut sh = shared.borrow_mut();
            let sh = &mut *sh;
            if seq > st.last_seq {
                let shift = seq - st.last_seq;
                st.window = if shift >= 128 { 0 } else { st.window << shift };
                st.window |= 1;
                st.last_seq = seq;
                sh.stats.received += 1;
            } else {
                let back = st.last_seq - seq;
                if back < 128 && st.window & (1u128 << back) != 0 {
                    sh.stats.dups += 1;
                } else {
                    if back < 128 {
                        st.window |= 1u128 << back;
                    }
                    sh.stats.reordered += 1;
                    sh.stats.received += 1;
                }
            }
            if let Some(o) = offset {
                if st.offset != 0 && o != st.offset + 1 {
                    sh.stats.offset_errors += 1;
                }
                st.offset = o;
                if st.epoch.is_none() {
                    st.epoch = epoch.map(str::to_owned);
                }
            }
            if let Some(so) = sio_offset {
                match &mut st.sio_offset {
                    Some(cur) => {
                        cur.clear();
                        cur.push_str(so);
                    }
                    None => st.sio_offset = Some(so.to_owned()),
                }
            }
            if record {
                sh.hist.record(now.saturating_sub(ts));
            }
            None
        }
        Incoming::Ping => Some("ping"),
        Incoming::Lagged => {
            shared.borrow_mut().stats.lagged += 1;
            None
        }
        Incoming::Resumed(_) | Incoming::Other => None,
    }
}

#[allow(clippy::too_many_arguments)]
async fn client_task(
    proto: Proto,
    addr: SocketAddr,
    mut st: ClientState,
    subscribe: bool,
    sem: Rc<Semaphore>,
    shared: Rc<RefCell<Shared>>,
    done: Rc<Notify>,
    mut kill: oneshot::Receiver<()>,
) -> ClientState {
    let opened = async {
        let _permit = sem.acquire().await?;
        let handshake = async {
            let (mut ws, session) = client::open(proto, addr, st.src, &st.token, None).await?;
            if subscribe {
                // The join position: where a resume starts if the server
                // closes the connection before any event arrives.
                if let Some(pos) = client::subscribe(proto, &mut ws, client::TOPIC).await? {
                    st.epoch = Some(pos.epoch);
                    st.offset = pos.offset;
                }
            }
            anyhow::Ok((ws, session))
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
            .await
            .map_err(|_| anyhow::anyhow!("handshake took over {HANDSHAKE_TIMEOUT:?}"))?
    }
    .await;
    let (ws, session) = {
        let mut sh = shared.borrow_mut();
        sh.handshakes += 1;
        done.notify_one();
        match opened {
            Ok(x) => {
                sh.stats.connected += 1;
                x
            }
            Err(e) => {
                sh.failed += 1;
                sh.stats.first_error.get_or_insert_with(|| format!("{e:#}"));
                return st;
            }
        }
    };
    st.sio_pid = session.sio_pid.clone();
    for t in &session.early {
        on_frame(proto, t, &mut st, &shared, true);
    }
    let mut end = receive(proto, ws, &session, &mut st, &shared, &mut kill).await;
    // As a real client does: after a resumable close, reconnect and resume
    // from the last offset seen, so the replay fills the gap.
    let mut recoveries = 0;
    while let Some(from) = resumable(proto, &end, &st).filter(|_| recoveries < MAX_RECOVERIES) {
        recoveries += 1;
        let reopened = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            client::open(proto, addr, st.src, &st.token, Some(&from)),
        )
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("resume took over {HANDSHAKE_TIMEOUT:?}")));
        end = match reopened {
            Ok((ws, session)) => {
                shared.borrow_mut().stats.recovered += 1;
                receive(proto, ws, &session, &mut st, &shared, &mut kill).await
            }
            Err(e) => Err(e.context("resuming after a close")),
        };
    }
    let mut sh = shared.borrow_mut();
    sh.stats.connected -= 1;
    if let Err(e) = end {
        sh.stats.closed += 1;
        sh.stats.first_error.get_or_insert_with(|| format!("{e:#}"));
    }
    st
}

/// Resumes after one connection's resumable closes at most this often.
const MAX_RECOVERIES: u32 = 5;

/// The server closed the connection with a close code.
#[derive(Debug)]
struct ServerClosed(Option<u16>);

impl std::fmt::Display for ServerClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(code) => write!(f, "server closed with {code}"),
            None => write!(f, "server closed"),
        }
    }
}

impl std::error::Error for ServerClosed {}

/// Where to resume from, if `end` is a Chinwag close that asks the client
/// to reconnect and resume (4010 slow consumer, 4011 shutdown).
fn resumable(proto: Proto, end: &Result<()>, st: &ClientState) -> Option<ResumeFrom> {
    let closed = end.as_ref().err()?.downcast_ref::<ServerClosed>()?;
    if proto != Proto::Chinwag || !matches!(closed.0, Some(4010 | 4011)) {
        return None;
    }
    Some(ResumeFrom::Chinwag(StreamPos {
        epoch: st.epoch.clone()?,
        offset: st.offset,
    }))
}

/// Receives until killed (`Ok`) or the connection ends (`Err`).
async fn receive(
    proto: Proto,
    mut ws: Ws,
    session: &client::Session,
    st: &mut ClientState,
    shared: &RefCell<Shared>,
    kill: &mut oneshot::Receiver<()>,
) -> Result<()> {
    let period = session.heartbeat.unwrap_or(Duration::from_secs(3600));
    let mut hb = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            _ = &mut *kill => return Ok(()),
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if let Incoming::Resumed(text) = client::classify(proto, &t)
                        && !client::resume_is_clean(text.as_bytes())
                    {
                        anyhow::bail!("resume incomplete: {text}");
                    }
                    if on_frame(proto, &t, st, shared, true) == Some("ping") {
                        ws.send(Message::text("3")).await?;
                    }
                }
                Some(Ok(Message::Close(c))) => {
                    return Err(ServerClosed(c.map(|c| u16::from(c.code))).into())
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("connection ended"),
            },
            _ = hb.tick(), if session.heartbeat.is_some() => {
                ws.send(Message::text(client::CHINWAG_PING)).await?;
            }
        }
    }
}

struct ResumeOutcome {
    complete: bool,
    events: u64,
    dups: u64,
    resync_or_denied: bool,
    elapsed: Duration,
    note: Option<String>,
}

async fn resume_task(
    proto: Proto,
    addr: SocketAddr,
    mut st: ClientState,
    target_seq: u64,
    timeout: Duration,
    sem: Rc<Semaphore>,
) -> Result<ResumeOutcome> {
    let from = match proto {
        Proto::Chinwag => ResumeFrom::Chinwag(StreamPos {
            epoch: st
                .epoch
                .clone()
                .ok_or_else(|| anyhow::anyhow!("client {} never saw an event", st.uid))?,
            offset: st.offset,
        }),
        Proto::SocketIo => ResumeFrom::SocketIo {
            pid: st
                .sio_pid
                .clone()
                .ok_or_else(|| anyhow::anyhow!("server gave no pid: recovery is off"))?,
            offset: st
                .sio_offset
                .clone()
                .ok_or_else(|| anyhow::anyhow!("events carried no recovery offset"))?,
        },
    };
    let _permit = sem.acquire().await?;
    let start = Instant::now();
    let (mut ws, session) = client::open(proto, addr, st.src, &st.token, Some(&from)).await?;
    let scratch = RefCell::new(Shared::default());
    let first = st.last_seq;
    for t in &session.early {
        on_frame(proto, t, &mut st, &scratch, false);
    }
    let mut resumed = proto == Proto::SocketIo;
    let mut resync_or_denied = false;
    let mut note = None;
    let deadline = tokio::time::Instant::now() + timeout;
    while !(resumed && st.last_seq >= target_seq) {
        let msg = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => {
                note = Some("timed out".into());
                break;
            }
            Ok(None) => {
                note = Some("connection ended".into());
                break;
            }
            Ok(Some(m)) => m?,
        };
        let Message::Text(t) = msg else { continue };
        if let Incoming::Resumed(text) = client::classify(proto, &t) {
            resumed = true;
            if !client::resume_is_clean(text.as_bytes()) {
                resync_or_denied = true;
                note = Some(text.to_owned());
            }
            if st.last_seq < target_seq {
                break;
            }
        }
        if on_frame(proto, &t, &mut st, &scratch, false) == Some("ping") {
            ws.send(Message::text("3")).await?;
        }
    }
    let elapsed = start.elapsed();
    let s = scratch.borrow();
    let events = s.stats.received;
    let complete = st.last_seq == target_seq
        && s.stats.dups == 0
        && events == target_seq - first
        && !resync_or_denied;
    Ok(ResumeOutcome {
        complete,
        events,
        dups: s.stats.dups,
        resync_or_denied,
        elapsed,
        note,
    })
}
