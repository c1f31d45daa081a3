//! The raw ceiling: a minimal tokio WebSocket server that speaks the subset
//! of the Chinwag wire the bench uses (hello, ready, subscribe, publish,
//! ping, identify with resume). Each publish is serialized once; the bytes
//! are shared with every subscriber's bounded outbox, and each writer sends
//! everything queued before one flush. No persistence, no permissions: it
//! shows what the machine and the client can do, not a server to ship.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::jwt;

/// Frames queued per connection before it counts as too slow and is closed.
const OUTBOX: usize = 16_384;
/// Events kept per topic for resume.
const HISTORY: usize = 200_000;
/// Frames written per flush, at most.
const BATCH: usize = 512;

type Outbox = mpsc::Sender<Utf8Bytes>;

#[derive(Default)]
struct Topic {
    offset: u64,
    subs: HashMap<u64, Outbox>,
    history: VecDeque<(u64, Utf8Bytes)>,
}

struct Hub {
    topics: Mutex<HashMap<String, Topic>>,
    next_conn: AtomicU64,
    /// The same shapes as Chinwag's (16 hex digits, `node-` and 6), so an
    /// event frame here is exactly as long as Chinwag's.
    epoch: String,
    node: String,
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Command {
    Identify {
        token: String,
    },
    Ping,
    Resume {
        rooms: HashMap<String, Position>,
    },
    Subscribe {
        topic: String,
        nonce: Option<String>,
    },
    Publish {
        topic: String,
        data: Value,
        nonce: Option<String>,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct Position {
    offset: u64,
}

/// Serves WebSocket clients on `listener` until the process ends.
pub async fn run(listener: TcpListener, secret: String) -> Result<()> {
    let hub = Arc::new(Hub::new());
    let secret = Arc::new(secret);
    loop {
        let (stream, _) = listener.accept().await?;
        let hub = hub.clone();
        let secret = secret.clone();
        tokio::spawn(async move {
            let _ = connection(stream, hub, secret).await;
        });
    }
}

fn ack(nonce: &str) -> Utf8Bytes {
    Utf8Bytes::from(format!(r#"{{"op":"ack","nonce":{}}}"#, Value::from(nonce)))
}

impl Hub {
    fn new() -> Hub {
        Hub {
            topics: Mutex::default(),
            next_conn: AtomicU64::new(0),
            epoch: format!("{:016x}", rand::random::<u64>()),
            node: format!("node-{:06x}", rand::random::<u32>() & 0x00ff_ffff),
        }
    }

    /// Subscribes; returns the offset live delivery starts after.
    fn subscribe(&self, topic: &str, conn: u64, tx: &Outbox) -> u64 {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let t = topics.entry(topic.to_owned()).or_default();
        t.subs.insert(conn, tx.clone());
        t.offset
    }

    /// Queues the frames in `(after, upto]`; returns how many.
    fn replay(&self, topic: &str, tx: &Outbox, after: u64, upto: u64) -> u64 {
        let topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let Some(t) = topics.get(topic) else { return 0 };
        let mut n = 0;
        for (_, frame) in t.history.iter().filter(|(o, _)| *o > after && *o <= upto) {
            let _ = tx.try_send(frame.clone());
            n += 1;
        }
        n
    }

    fn unsubscribe_all(&self, conn: u64) {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        for t in topics.values_mut() {
            t.subs.remove(&conn);
        }
    }

    fn publish(&self, topic: &str, from: &str, data: &Value) {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let t = topics.entry(topic.to_owned()).or_default();
        t.offset += 1;
        let frame = Utf8Bytes::from(format!(
            r#"{{"op":"event","room":"topic:{topic}","epoch":"{}","offset":{},"type":"TOPIC_MESSAGE","data":{{"topic":{},"from":"{from}","origin_node":"{}","data":{data}}}}}"#,
            self.epoch,
            t.offset,
            Value::from(topic),
            self.node,
        ));
        // A full outbox means a slow consumer: drop it (its writer closes).
        t.subs.retain(|_, tx| tx.try_send(frame.clone()).is_ok());
        t.history.push_back((t.offset, frame));
        if t.history.len() > HISTORY {
            t.history.pop_front();
        }
    }
}

async fn connection(stream: TcpStream, hub: Arc<Hub>, secret: Arc<String>) -> Result<()> {
    stream.set_nodelay(true)?;
    let mut query = String::new();
    #[allow(clippy::result_large_err)] // the signature is tungstenite's
    let cb = |req: &Request, resp: Response| {
        query = req.uri().query().unwrap_or_default().to_owned();
        Ok(resp)
    };
    // Frames fed are buffered (up to 64 KiB) and written on flush: one
    // write per batch, not one per frame.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(64 * 1024);
    let ws = tokio_tungstenite::accept_hdr_async_with_config(stream, cb, Some(config)).await?;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(OUTBOX);
    let conn = hub.next_conn.fetch_add(1, Ordering::Relaxed);

    let writer = tokio::spawn(async move {
        let mut buf = Vec::with_capacity(BATCH);
        while rx.recv_many(&mut buf, BATCH).await > 0 {
            for frame in buf.drain(..) {
                sink.feed(Message::Text(frame)).await?;
            }
            sink.flush().await?;
        }
        // The hub dropped this outbox (too slow) or the reader ended.
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: 4010.into(),
                reason: "too slow".into(),
            })))
            .await;
        anyhow::Ok(())
    });

    tx.send(Utf8Bytes::from_static(
        r#"{"op":"hello","heartbeat_interval_ms":30000,"identify_timeout_ms":10000,"max_frame_bytes":65536,"node_id":"raw"}"#,
    ))
    .await?;
    let token = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::to_owned);
    let mut uid = None;
    // Topic -> the offset live delivery started after.
    let mut joined: HashMap<String, u64> = HashMap::new();
    if let Some(token) = token {
        uid = Some(jwt::verify(&secret, &token)?.sub);
        tx.send(ready(conn, uid.as_deref().unwrap_or("0"))).await?;
    }

    let result = async {
        while let Some(msg) = stream.next().await {
            let text = match msg? {
                Message::Text(t) => t,
                Message::Close(_) => break,
                _ => continue,
            };
            let cmd: Command = match serde_json::from_str(&text) {
                Ok(c) => c,
                Err(_) => continue,
            };
            match (cmd, uid.as_deref()) {
                (Command::Identify { token }, None) => {
                    let sub = jwt::verify(&secret, &token)?.sub;
                    tx.send(ready(conn, &sub)).await?;
                    uid = Some(sub);
                }
                (Command::Resume { rooms }, Some(_)) => {
                    let mut replayed = serde_json::Map::new();
                    let mut denied = Vec::new();
                    for (room, pos) in rooms {
                        // A topic not subscribed yet is subscribed again, as
                        // Chinwag does.
                        let Some(topic) = room.strip_prefix("topic:") else {
                            denied.push(room);
                            continue;
                        };
                        let upto = match joined.get(topic) {
                            Some(upto) => *upto,
                            None => {
                                let upto = hub.subscribe(topic, conn, &tx);
                                joined.insert(topic.to_owned(), upto);
                                upto
                            }
                        };
                        let n = hub.replay(topic, &tx, pos.offset, upto);
                        replayed.insert(room.clone(), n.into());
                    }
                    let resumed = serde_json::json!({
                        "op": "resumed", "replayed": replayed, "resync": [], "denied": denied
                    });
                    tx.send(Utf8Bytes::from(resumed.to_string())).await?;
                }
                (_, None) => bail!("not identified"),
                (Command::Ping, Some(_)) => {
                    tx.send(Utf8Bytes::from_static(r#"{"op":"pong"}"#)).await?
                }
                (Command::Subscribe { topic, nonce }, Some(_)) => {
                    let upto = hub.subscribe(&topic, conn, &tx);
                    joined.insert(topic, upto);
                    if let Some(n) = nonce {
                        tx.send(ack(&n)).await?;
                    }
                }
                (Command::Publish { topic, data, nonce }, Some(from)) => {
                    hub.publish(&topic, from, &data);
                    if let Some(n) = nonce {
                        tx.send(ack(&n)).await?;
                    }
                }
                _ => {}
            }
        }
        anyhow::Ok(())
    }
    .await;
    hub.unsubscribe_all(conn);
    drop(tx);
    let _ = writer.await;
    result
}

fn ready(conn: u64, uid: &str) -> Utf8Bytes {
    Utf8Bytes::from(format!(
        r#"{{"op":"ready","conn_id":"raw-{conn}","user_id":"{uid}","role":"user","status":"online","rooms":[],"token_expires_at":0}}"#
    ))
}
