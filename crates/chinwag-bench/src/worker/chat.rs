//! The chat scenario's clients (scenario 3). Each client is a registered
//! user in one room of a few members (a community with one text channel);
//! the worker holds whole rooms. Messages go out with `send_message`, each
//! carrying its send time; every member (the sender too) receives
//! `NEW_MESSAGE` in `channel:{id}` and records the latency. Every durable
//! event's offset is checked per room (no gap, no duplicate). Presence
//! churn drops clients abruptly and reconnects them with `identify` +
//! `resume` from the positions they saw, so what they missed is replayed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Result, bail};
use chinwag_protocol::client::{ClientFrame, Identify, SendMessage, Typing};
use chinwag_protocol::{Id, ServerFrame, StreamPos};
use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::spawn_local;
use tokio::time::Instant;
use tokio_tungstenite::client_async_with_config;
use tokio_tungstenite::tungstenite::Message;

use super::{Shared, source_ip};
use crate::client::{self, Ws};
use crate::hist::{Histogram, SparseHistogram};
use crate::{jwt, key, scan};

/// One user: who, and the channel of their room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// User id.
    pub uid: u64,
    /// The room's text channel.
    pub channel: u64,
}

/// One load step as one worker runs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepPlan {
    /// Messages per second this worker sends, over all its rooms.
    pub rate: f64,
    /// How long it sends, ms.
    pub window_ms: u64,
    /// Fraction of messages preceded by a `typing` command.
    pub typing: f64,
    /// Fraction of this worker's clients dropped (and resumed) per second.
    pub churn: f64,
    /// How long a dropped client stays away, ms.
    pub away_ms: u64,
    /// Longest wait after the window for acks, resumes and deliveries, ms.
    pub drain_ms: u64,
}

/// What one step did, counted by the clients.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StepStats {
    /// `send_message` commands sent.
    pub sent: u64,
    /// Sends skipped because every member of the rooms tried was still
    /// waiting for an ack or resuming (the offered rate was not reached).
    pub skipped: u64,
    /// Sends acknowledged (the message is stored).
    pub acked: u64,
    /// Sends refused with an `error`.
    pub send_errors: u64,
    /// Sends whose connection died before the answer (stored or not).
    pub in_doubt: u64,
    /// `NEW_MESSAGE` deliveries expected: acked messages × room members.
    pub expected: u64,
    /// Extra deliveries the in-doubt sends may account for.
    pub in_doubt_deliveries: u64,
    /// `NEW_MESSAGE` deliveries received (live and replayed), each once.
    pub received: u64,
    /// Of those, replayed by a resume.
    pub replayed: u64,
    /// Durable events skipped over (offset jumped): lost.
    pub gaps: u64,
    /// Durable events received again (offset not above the last).
    pub dups: u64,
    /// Resumes answered with a resync or a denied room.
    pub resyncs: u64,
    /// Presence events (`USER_ONLINE`, `USER_OFFLINE`) received.
    pub presence: u64,
    /// Other durable events received.
    pub other_events: u64,
    /// `typing` commands sent.
    pub typing_sent: u64,
    /// `USER_TYPING` deliveries received.
    pub typing_received: u64,
    /// Ephemeral events the server dropped (`lagged.dropped_ephemeral`).
    pub typing_dropped: u64,
    /// Clients dropped by the churn.
    pub churned: u64,
    /// Reconnects that failed (retried).
    pub resume_failures: u64,
    /// Clients that gave up reconnecting.
    pub lost_clients: u64,
    /// Connections the server closed (e.g. 4010 slow consumer), resumed.
    pub server_closes: u64,
    /// Errors other than refused sends.
    pub other_errors: u64,
    /// Clients connected at the end of the step.
    pub connected: u64,
    /// The first error seen.
    pub first_error: Option<String>,
    /// Live `NEW_MESSAGE` latency, µs (send time to receipt).
    pub hist: SparseHistogram,
    /// Send-to-ack latency, µs.
    pub ack_hist: SparseHistogram,
}

impl StepStats {
    /// Adds another worker's counters (not the histograms).
    pub fn add(&mut self, o: &StepStats) {
        self.sent += o.sent;
        self.skipped += o.skipped;
        self.acked += o.acked;
        self.send_errors += o.send_errors;
        self.in_doubt += o.in_doubt;
        self.expected += o.expected;
        self.in_doubt_deliveries += o.in_doubt_deliveries;
        self.received += o.received;
        self.replayed += o.replayed;
        self.gaps += o.gaps;
        self.dups += o.dups;
        self.resyncs += o.resyncs;
        self.presence += o.presence;
        self.other_events += o.other_events;
        self.typing_sent += o.typing_sent;
        self.typing_received += o.typing_received;
        self.typing_dropped += o.typing_dropped;
        self.churned += o.churned;
        self.resume_failures += o.resume_failures;
        self.lost_clients += o.lost_clients;
        self.server_closes += o.server_closes;
        self.other_errors += o.other_errors;
        self.connected += o.connected;
        if self.first_error.is_none() {
            self.first_error.clone_from(&o.first_error);
        }
    }

    /// Why these counters show lost, duplicated or refused messages.
    pub fn damage(&self) -> Option<String> {
        let mut why = Vec::new();
        if self.received < self.expected {
            why.push(format!(
                "{} of {} deliveries missing",
                self.expected - self.received,
                self.expected
            ));
        }
        if self.received > self.expected + self.in_doubt_deliveries {
            why.push(format!(
                "{} deliveries more than the acknowledged messages account for",
                self.received - self.expected - self.in_doubt_deliveries
            ));
        }
        for (n, what) in [
            (self.gaps, "durable events skipped (offset gaps)"),
            (self.dups, "durable events duplicated"),
            (self.resyncs, "resumes answered with resync/denied"),
            (self.lost_clients, "clients could not reconnect"),
            (self.send_errors, "sends refused"),
        ] {
            if n > 0 {
                why.push(format!("{n} {what}"));
            }
        }
        (!why.is_empty()).then(|| {
            let mut s = why.join("; ");
            if let Some(e) = &self.first_error {
                s.push_str(&format!(" (first error: {e})"));
            }
            s
        })
    }
}

/// What the driver tells a client.
enum Order {
    /// Send one message, after a `typing` if set.
    Send { typing: bool },
    /// Drop the connection abruptly, stay away this long, then resume.
    Away(Duration),
}

#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    /// Connected (after `ready`).
    up: bool,
    /// Waiting for an ack, or away / resuming: not to be picked.
    busy: bool,
}

#[derive(Default)]
struct ChatShared {
    stats: StepStats,
    hist: Histogram,
    ack_hist: Histogram,
    flags: Vec<Flags>,
    handshakes: u64,
    failed: u64,
    connect_error: Option<String>,
}

impl ChatShared {
    fn error(&mut self, e: impl std::fmt::Display) {
        self.stats.first_error.get_or_insert_with(|| e.to_string());
    }
}

/// The worker's chat clients and the driver that loads them.
pub struct ChatWorker {
    shared: Rc<RefCell<ChatShared>>,
    orders: Vec<mpsc::UnboundedSender<Order>>,
    /// Client indices per room.
    rooms: Vec<Vec<usize>>,
    rng: StdRng,
}

/// Members grouped by channel, in first-seen order: the client indices of
/// each room.
pub fn rooms_of(members: &[Member]) -> Vec<Vec<usize>> {
    let mut order: Vec<u64> = Vec::new();
    let mut by: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        by.entry(m.channel)
            .or_insert_with(|| {
                order.push(m.channel);
                Vec::new()
            })
            .push(i);
    }
    order
        .into_iter()
        .map(|c| by.remove(&c).unwrap_or_default())
        .collect()
}

impl ChatWorker {
    /// Connects every member (`concurrency` handshakes at once) and waits
    /// until each has succeeded or failed: `(ok, failed, first error)`.
    pub(super) async fn connect(
        tick: Rc<RefCell<Shared>>,
        addr: SocketAddr,
        secret: &str,
        members: Vec<Member>,
        concurrency: usize,
    ) -> Result<(ChatWorker, u64, u64, Option<String>)> {
        let rooms = rooms_of(&members);
        let mut room_size = vec![0u64; members.len()];
        for r in &rooms {
            for &i in r {
                room_size[i] = r.len() as u64;
            }
        }
        let shared = Rc::new(RefCell::new(ChatShared {
            flags: vec![Flags::default(); members.len()],
            ..Default::default()
        }));
        let sem = Rc::new(Semaphore::new(concurrency.max(1)));
        let done = Rc::new(Notify::new());
        let mut orders = Vec::with_capacity(members.len());
        for (idx, m) in members.iter().enumerate() {
            let (tx, rx) = mpsc::unbounded_channel();
            orders.push(tx);
            let c = Client {
                idx,
                uid: m.uid,
                channel: m.channel,
                room_size: room_size[idx],
                token: jwt::mint(secret, m.uid)?,
                addr,
                pos: BTreeMap::new(),
                pending: None,
                replaying: false,
                seq: 0,
            };
            spawn_local(c.run(rx, shared.clone(), tick.clone(), sem.clone(), done.clone()));
        }
        let target = members.len() as u64;
        loop {
            let notified = done.notified();
            if shared.borrow().handshakes >= target {
                break;
            }
            notified.await;
        }
        let (ok, failed, err) = {
            let s = shared.borrow();
            (
                s.flags.iter().filter(|f| f.up).count() as u64,
                s.failed,
                s.connect_error.clone(),
            )
        };
        let w = ChatWorker {
            shared,
            orders,
            rooms,
            rng: StdRng::from_entropy(),
        };
        Ok((w, ok, failed, err))
    }

    /// Runs one step: sends at the planned rate and churns for the window,
    /// then waits (up to `drain_ms`) for every ack, resume and delivery.
    pub async fn step(&mut self, plan: &StepPlan) -> StepStats {
        {
            let mut s = self.shared.borrow_mut();
            s.stats = StepStats::default();
            s.hist.reset();
            s.ack_hist.reset();
        }
        let start = Instant::now();
        let window = Duration::from_millis(plan.window_ms);
        let away = Duration::from_millis(plan.away_ms);
        let clients = self.orders.len() as f64;
        let (mut sends, mut churns) = (0u64, 0u64);
        let mut iv = tokio::time::interval(Duration::from_millis(2));
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            iv.tick().await;
            let el = start.elapsed();
            if el >= window {
                break;
            }
            let secs = el.as_secs_f64();
            let due = (plan.rate * secs) as u64;
            while sends < due {
                sends += 1;
                let typing = plan.typing > 0.0 && self.rng.gen_bool(plan.typing.min(1.0));
                if !self.send_one(typing) {
                    self.shared.borrow_mut().stats.skipped += 1;
                }
            }
            let due = (plan.churn * clients * secs) as u64;
            while churns < due {
                churns += 1;
                self.away_one(away);
            }
        }
        let deadline = Instant::now() + Duration::from_millis(plan.drain_ms);
        loop {
            let settled = {
                let s = self.shared.borrow();
                s.flags.iter().all(|f| !f.busy) && s.stats.received >= s.stats.expected
            };
            if settled || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let s = self.shared.borrow();
        let mut out = s.stats.clone();
        out.connected = s.flags.iter().filter(|f| f.up).count() as u64;
        out.hist = s.hist.to_sparse();
        out.ack_hist = s.ack_hist.to_sparse();
        out
    }

    /// Picks an idle member of a random room and has it send; false if
    /// none was idle in the rooms tried.
    fn send_one(&mut self, typing: bool) -> bool {
        if self.rooms.is_empty() {
            return false;
        }
        for _ in 0..4 {
            let room = &self.rooms[self.rng.gen_range(0..self.rooms.len())];
            let first = self.rng.gen_range(0..room.len());
            let mut s = self.shared.borrow_mut();
            for k in 0..room.len() {
                let i = room[(first + k) % room.len()];
                let f = &mut s.flags[i];
                if f.up && !f.busy {
                    f.busy = true;
                    s.stats.sent += 1;
                    let _ = self.orders[i].send(Order::Send { typing });
                    return true;
                }
            }
        }
        false
    }

    /// Drops a random idle client for `away`.
    fn away_one(&mut self, away: Duration) {
        let n = self.orders.len();
        if n == 0 {
            return;
        }
        let mut s = self.shared.borrow_mut();
        for _ in 0..32 {
            let i = self.rng.gen_range(0..n);
            let f = &mut s.flags[i];
            if f.up && !f.busy {
                f.busy = true;
                s.stats.churned += 1;
                let _ = self.orders[i].send(Order::Away(away));
                return;
            }
        }
    }
}

/// How a session ended.
enum End {
    /// Churned: stay away this long, then resume.
    Away(Duration),
    /// The connection failed or the server closed it.
    Closed(String),
    /// The worker is gone.
    Quit,
}

/// One client and what it saw.
struct Client {
    idx: usize,
    uid: u64,
    channel: u64,
    room_size: u64,
    token: String,
    addr: SocketAddr,
    /// The last position seen per room (from `ready`, then each event).
    pos: BTreeMap<String, StreamPos>,
    /// Send time (µs) of the message waiting for its ack.
    pending: Option<u64>,
    /// Between a resuming `identify` and `resumed`.
    replaying: bool,
    seq: u64,
}

/// Reconnect attempts before a client gives up.
const RECONNECT_TRIES: u32 = 10;

impl Client {
    async fn run(
        mut self,
        mut orders: mpsc::UnboundedReceiver<Order>,
        shared: Rc<RefCell<ChatShared>>,
        tick: Rc<RefCell<Shared>>,
        sem: Rc<Semaphore>,
        done: Rc<Notify>,
    ) {
        // First connection: counted as a handshake, never retried.
        let first = async {
            let _permit = sem.acquire().await?;
            tokio::time::timeout(Duration::from_secs(60), self.open())
                .await
                .map_err(|_| anyhow::anyhow!("handshake took over 60 s"))?
        }
        .await;
        let (mut ws, mut heartbeat) = {
            let mut sh = shared.borrow_mut();
            sh.handshakes += 1;
            done.notify_one();
            match first {
                Ok(x) => {
                    sh.flags[self.idx].up = true;
                    tick.borrow_mut().stats.connected += 1;
                    x
                }
                Err(e) => {
                    sh.failed += 1;
                    sh.connect_error.get_or_insert_with(|| format!("{e:#}"));
                    return;
                }
            }
        };
        loop {
            let end = self
                .session(&mut ws, heartbeat, &mut orders, &shared, &tick)
                .await;
            drop(ws);
            {
                shared.borrow_mut().flags[self.idx].up = false;
                tick.borrow_mut().stats.connected -= 1;
            }
            let wait = match end {
                End::Quit => return,
                End::Away(d) => d,
                End::Closed(why) => {
                    let mut sh = shared.borrow_mut();
                    sh.stats.server_closes += 1;
                    sh.error(format!("user {}: {why}", self.uid));
                    if self.pending.take().is_some() {
                        sh.stats.in_doubt += 1;
                        sh.stats.in_doubt_deliveries += self.room_size;
                    }
                    sh.flags[self.idx].busy = true;
                    Duration::from_millis(200)
                }
            };
            tokio::time::sleep(wait).await;
            let mut tries = 0;
            loop {
                match tokio::time::timeout(Duration::from_secs(30), self.open()).await {
                    Ok(Ok(x)) => {
                        (ws, heartbeat) = x;
                        break;
                    }
                    Ok(Err(e)) => self.failed_reconnect(&shared, format!("{e:#}")),
                    Err(_) => self.failed_reconnect(&shared, "reconnect took over 30 s".into()),
                }
                tries += 1;
                if tries >= RECONNECT_TRIES {
                    shared.borrow_mut().stats.lost_clients += 1;
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            shared.borrow_mut().flags[self.idx].up = true;
            tick.borrow_mut().stats.connected += 1;
        }
    }

    fn failed_reconnect(&self, shared: &RefCell<ChatShared>, why: String) {
        let mut sh = shared.borrow_mut();
        sh.stats.resume_failures += 1;
        sh.error(format!("user {} reconnecting: {why}", self.uid));
    }

    /// Connects and identifies, resuming every room seen so far.
    async fn open(&mut self) -> Result<(Ws, Duration)> {
        let stream = client::tcp(self.addr, Some(source_ip(self.uid))).await?;
        let url = format!("ws://{}/ws", self.addr);
        let (mut ws, _) = client_async_with_config(url, stream, Some(client::ws_config())).await?;
        let hello = client::next_text(&mut ws).await?;
        let heartbeat = match serde_json::from_str::<ServerFrame>(&hello) {
            Ok(ServerFrame::Hello(h)) => Duration::from_millis(h.heartbeat_interval_ms.max(1000)),
            _ => bail!("expected hello, got {hello}"),
        };
        let resume = (!self.pos.is_empty()).then(|| self.pos.clone());
        let resuming = resume.is_some();
        let frame = ClientFrame::Identify(Identify {
            token: self.token.clone(),
            resume,
            status: None,
        });
        ws.send(Message::text(serde_json::to_string(&frame)?))
            .await?;
        loop {
            let t = client::next_text(&mut ws).await?;
            let b = t.as_bytes();
            if scan::contains(b, key!(br#""op":"ready""#)) {
                let Ok(ServerFrame::Ready(ready)) = serde_json::from_str::<ServerFrame>(&t) else {
                    bail!("bad ready frame: {t}");
                };
                // On a resume, keep our own positions: the replay fills
                // in from them.
                for r in ready.rooms {
                    self.pos.entry(r.room).or_insert(r.pos);
                }
                self.replaying = resuming;
                return Ok((ws, heartbeat));
            }
            if scan::contains(b, key!(br#""op":"error""#)) {
                bail!("identify refused: {t}");
            }
        }
    }

    async fn session(
        &mut self,
        ws: &mut Ws,
        heartbeat: Duration,
        orders: &mut mpsc::UnboundedReceiver<Order>,
        shared: &RefCell<ChatShared>,
        tick: &RefCell<Shared>,
    ) -> End {
        let mut hb = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        if !self.replaying {
            shared.borrow_mut().flags[self.idx].busy = false;
        }
        loop {
            tokio::select! {
                order = orders.recv() => match order {
                    None => return End::Quit,
                    Some(Order::Away(d)) => return End::Away(d),
                    Some(Order::Send { typing }) => {
                        if let Err(e) = self.send(ws, typing, shared).await {
                            return End::Closed(format!("sending: {e}"));
                        }
                    }
                },
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(t))) => self.on_frame(t.as_bytes(), shared, tick),
                    Some(Ok(Message::Close(c))) => return End::Closed(format!("server closed: {c:?}")),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return End::Closed(e.to_string()),
                    None => return End::Closed("connection ended".into()),
                },
                _ = hb.tick() => {
                    if let Err(e) = ws.send(Message::text(client::CHINWAG_PING)).await {
                        return End::Closed(format!("ping: {e}"));
                    }
                }
            }
        }
    }

    async fn send(
        &mut self,
        ws: &mut Ws,
        typing: bool,
        shared: &RefCell<ChatShared>,
    ) -> Result<()> {
        let channel_id = Id(self.channel as i64);
        if typing {
            let t = ClientFrame::Typing(Typing { channel_id });
            ws.send(Message::text(serde_json::to_string(&t)?)).await?;
            shared.borrow_mut().stats.typing_sent += 1;
        }
        let ts = client::now_micros();
        self.seq += 1;
        let frame = ClientFrame::SendMessage(SendMessage {
            channel_id,
            content: format!("cb:{ts} hello from the chinwag chat benchmark"),
            nonce: format!("m{}", self.seq),
            thread_parent_id: None,
        });
        self.pending = Some(ts);
        ws.send(Message::text(serde_json::to_string(&frame)?))
            .await?;
        Ok(())
    }

    fn on_frame(&mut self, b: &[u8], shared: &RefCell<ChatShared>, tick: &RefCell<Shared>) {
        if b.starts_with(br#"{"op":"event""#) {
            return self.on_event(b, shared, tick);
        }
        let mut sh = shared.borrow_mut();
        if scan::contains(b, key!(br#""op":"ack""#)) {
            let ours = scan::find_str(b, key!(br#""nonce":"#)).is_some_and(|n| n.starts_with('m'));
            if ours && let Some(ts) = self.pending.take() {
                sh.stats.acked += 1;
                sh.stats.expected += self.room_size;
                sh.ack_hist.record(client::now_micros().saturating_sub(ts));
                sh.flags[self.idx].busy = false;
            }
        } else if scan::contains(b, key!(br#""op":"error""#)) {
            let ours = scan::find_str(b, key!(br#""nonce":"#)).is_some_and(|n| n.starts_with('m'));
            if ours && self.pending.take().is_some() {
                sh.stats.send_errors += 1;
                sh.flags[self.idx].busy = false;
            } else {
                sh.stats.other_errors += 1;
            }
            sh.error(format!("user {}: {}", self.uid, String::from_utf8_lossy(b)));
        } else if scan::contains(b, key!(br#""op":"resumed""#)) {
            self.replaying = false;
            if !client::resume_is_clean(b) {
                sh.stats.resyncs += 1;
                sh.error(format!("user {}: {}", self.uid, String::from_utf8_lossy(b)));
            }
            if self.pending.is_none() {
                sh.flags[self.idx].busy = false;
            }
        } else if scan::contains(b, key!(br#""op":"lagged""#)) {
            sh.stats.typing_dropped +=
                scan::find_u64(b, key!(br#""dropped_ephemeral":"#)).unwrap_or(0);
        }
    }

    fn on_event(&mut self, b: &[u8], shared: &RefCell<ChatShared>, tick: &RefCell<Shared>) {
        let mut sh = shared.borrow_mut();
        let kind = scan::find_str(b, key!(br#""type":"#)).unwrap_or("");
        let (Some(room), Some(offset)) = (
            scan::find_str(b, key!(br#""room":"#)),
            scan::find_u64(b, key!(br#""offset":"#)),
        ) else {
            // Ephemeral: typing.
            if kind == "USER_TYPING" {
                sh.stats.typing_received += 1;
            } else {
                sh.stats.other_events += 1;
            }
            return;
        };
        let epoch = scan::find_str(b, key!(br#""epoch":"#)).unwrap_or("");
        match self.pos.get_mut(room) {
            Some(p) if p.epoch == epoch => {
                if offset <= p.offset {
                    sh.stats.dups += 1;
                    return;
                }
                if offset > p.offset + 1 {
                    sh.stats.gaps += offset - p.offset - 1;
                    sh.error(format!(
                        "user {}: {room} jumped from offset {} to {offset}",
                        self.uid, p.offset
                    ));
                }
                p.offset = offset;
            }
            Some(p) => {
                sh.stats.gaps += 1;
                sh.error(format!(
                    "user {}: {room} changed epoch {} -> {epoch}",
                    self.uid, p.epoch
                ));
                *p = StreamPos {
                    epoch: epoch.to_owned(),
                    offset,
                };
            }
            None => {
                // A room joined mid-session: start from here.
                self.pos.insert(
                    room.to_owned(),
                    StreamPos {
                        epoch: epoch.to_owned(),
                        offset,
                    },
                );
            }
        }
        match kind {
            "NEW_MESSAGE" => {
                sh.stats.received += 1;
                tick.borrow_mut().stats.received += 1;
                if self.replaying {
                    sh.stats.replayed += 1;
                } else if let Some(ts) = scan::find_u64(b, key!(br#""content":"cb:"#)) {
                    sh.hist.record(client::now_micros().saturating_sub(ts));
                }
            }
            "USER_ONLINE" | "USER_OFFLINE" => sh.stats.presence += 1,
            _ => sh.stats.other_events += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_members_by_room_in_order() {
        let m = |uid, channel| Member { uid, channel };
        let members = [m(1, 9), m(2, 9), m(3, 4), m(4, 9), m(5, 4)];
        assert_eq!(rooms_of(&members), vec![vec![0, 1, 3], vec![2, 4]]);
        assert!(rooms_of(&[]).is_empty());
    }

    #[test]
    fn damage_counts_loss_and_extras() {
        let ok = StepStats {
            acked: 10,
            expected: 100,
            received: 100,
            ..Default::default()
        };
        assert_eq!(ok.damage(), None);
        let lost = StepStats {
            received: 99,
            ..ok.clone()
        };
        assert!(
            lost.damage()
                .unwrap()
                .contains("1 of 100 deliveries missing")
        );
        let extra = StepStats {
            received: 110,
            ..ok.clone()
        };
        assert!(extra.damage().is_some());
        let doubt = StepStats {
            received: 110,
            in_doubt: 1,
            in_doubt_deliveries: 10,
            ..ok.clone()
        };
        assert_eq!(doubt.damage(), None);
        let gap = StepStats { gaps: 2, ..ok };
        assert!(gap.damage().unwrap().contains("offset gaps"));
    }
}
