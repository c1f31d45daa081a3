//! The publisher: one connection that publishes numbered, timestamped
//! events at a set rate, answering heartbeats in between.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Incoming, Proto, Ws};
use crate::jwt;

/// The publisher's user id.
pub const PUBLISHER_UID: u64 = 1;

enum Job {
    Rate {
        rate: f64,
        dur: Duration,
        reply: oneshot::Sender<Result<Published>>,
    },
    Burst {
        n: u64,
        reply: oneshot::Sender<Result<Published>>,
    },
}

/// What a job published.
#[derive(Debug, Clone, Copy)]
pub struct Published {
    /// Events sent.
    pub count: u64,
    /// The last seq sent.
    pub last_seq: u64,
    /// How long sending took.
    pub elapsed: Duration,
}

/// A handle on the publisher task.
pub struct Publisher {
    jobs: mpsc::Sender<Job>,
}

struct Actor {
    proto: Proto,
    ws: Ws,
    seq: u64,
    acks: u64,
    heartbeat: Option<Duration>,
}

impl Publisher {
    /// Connects as [`PUBLISHER_UID`] and starts the task.
    pub async fn connect(proto: Proto, addr: SocketAddr, secret: &str) -> Result<Publisher> {
        let token = jwt::mint(secret, PUBLISHER_UID)?;
        let (mut ws, session) = client::open(proto, addr, None, &token, None).await?;
        // One acknowledged round trip, so the server is ready for emits
        // (and a room of its own, so it receives none of the events).
        client::subscribe(proto, &mut ws, "public.bench-publisher").await?;
        let (jobs, mut rx) = mpsc::channel(4);
        let mut actor = Actor {
            proto,
            ws,
            seq: 0,
            acks: 0,
            heartbeat: session.heartbeat,
        };
        tokio::spawn(async move {
            let period = actor.heartbeat.unwrap_or(Duration::from_secs(3600));
            let mut hb = tokio::time::interval_at(Instant::now() + period, period);
            loop {
                tokio::select! {
                    job = rx.recv() => match job {
                        Some(Job::Rate { rate, dur, reply }) => {
                            let _ = reply.send(actor.rate(rate, dur).await);
                        }
                        Some(Job::Burst { n, reply }) => {
                            let _ = reply.send(actor.burst(n).await);
                        }
                        None => break,
                    },
                    msg = actor.ws.next() => match msg {
                        Some(Ok(Message::Text(t))) => {
                            if actor.incoming(&t).await.is_err() { break }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                    _ = hb.tick(), if actor.heartbeat.is_some() => {
                        if actor.ws.send(Message::text(client::CHINWAG_PING)).await.is_err() { break }
                    }
                }
            }
        });
        Ok(Publisher { jobs })
    }

    /// Publishes at `rate` events/s for `dur`.
    pub async fn rate(&self, rate: f64, dur: Duration) -> Result<Published> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Rate { rate, dur, reply })
            .await
            .map_err(|_| anyhow!("publisher gone"))?;
        rx.await?
    }

    /// Publishes `n` events as fast as possible and waits until the server
    /// acknowledged the last one.
    pub async fn burst(&self, n: u64) -> Result<Published> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Burst { n, reply })
            .await
            .map_err(|_| anyhow!("publisher gone"))?;
        rx.await?
    }
}

impl Actor {
    async fn incoming(&mut self, text: &str) -> Result<()> {
        if client::classify(self.proto, text) == Incoming::Ping {
            self.ws.send(Message::text("3")).await?;
        }
        Ok(())
    }

    async fn rate(&mut self, rate: f64, dur: Duration) -> Result<Published> {
        let start = Instant::now();
        let first = self.seq;
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let elapsed = start.elapsed().min(dur);
                    let due = first + (rate * elapsed.as_secs_f64()).floor() as u64;
                    while self.seq < due {
                        self.seq += 1;
                        let f = client::publish_frame(self.proto, self.seq, None)?;
                        self.ws.feed(Message::text(f)).await?;
                    }
                    self.ws.flush().await?;
                    if elapsed >= dur {
                        break;
                    }
                }
                msg = self.ws.next() => match msg {
                    Some(Ok(Message::Text(t))) => self.incoming(&t).await?,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                    None => bail!("publisher connection closed"),
                },
            }
        }
        Ok(Published {
            count: self.seq - first,
            last_seq: self.seq,
            elapsed: start.elapsed(),
        })
    }

    async fn wait_ack(&mut self, ack: u64, deadline: Instant) -> Result<()> {
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| anyhow!("no ack for the publish burst within 30 s"))?;
            let Some(msg) = msg else {
                bail!("publisher connection closed")
            };
            if let Message::Text(t) = msg? {
                if client::is_publish_ack(self.proto, &t, ack) {
                    return Ok(());
                }
                self.incoming(&t).await?;
            }
        }
    }

    async fn burst(&mut self, n: u64) -> Result<Published> {
        let start = Instant::now();
        self.acks += 1;
        let ack = self.acks;
        for i in 0..n {
            self.seq += 1;
            let f = client::publish_frame(self.proto, self.seq, (i + 1 == n).then_some(ack))?;
            self.ws.feed(Message::text(f)).await?;
        }
        self.ws.flush().await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        if n > 0 {
            self.wait_ack(ack, deadline).await?;
        }
        Ok(Published {
            count: n,
            last_seq: self.seq,
            elapsed: start.elapsed(),
        })
    }
}
