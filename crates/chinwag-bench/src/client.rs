//! Protocol adapters: open an authenticated connection, subscribe, publish,
//! and classify received frames, for the Chinwag wire (also spoken by the
//! raw ceiling) and for Socket.IO v5 over Engine.IO v4.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use chinwag_protocol::client::{ClientFrame, Publish, Resume, TopicCommand};
use chinwag_protocol::{ServerFrame, StreamPos};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::eio::{self, EioPacket, SioKind};
use crate::{key, scan};

/// The WebSocket type every client uses.
pub type Ws = WebSocketStream<TcpStream>;

/// Which wire a target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    /// Chinwag's JSON frames at `/ws` (Chinwag and the raw ceiling).
    Chinwag,
    /// Socket.IO v5 at `/socket.io/` (Node socket.io and socketioxide).
    SocketIo,
}

/// The topic the fan-out and resume scenarios use.
pub const TOPIC: &str = "public.bench";
/// How long any single handshake step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Microseconds since the Unix epoch (the publish timestamp clock).
#[inline]
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Client buffers: small reads (ten thousand idle clients must not each
/// hold 128 KiB), and writes go out at once (clients rarely write).
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// What a handshake learned.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// Chinwag: send `ping` this often.
    pub heartbeat: Option<Duration>,
    /// Socket.IO: the private session id used for connection-state recovery.
    pub sio_pid: Option<String>,
    /// Socket.IO: whether the server recovered the previous session.
    pub sio_recovered: bool,
    /// Frames that arrived before the handshake finished (Socket.IO sends
    /// a recovered session's missed packets before its CONNECT answer).
    pub early: Vec<Utf8Bytes>,
}

/// How to resume, per protocol.
#[derive(Debug, Clone)]
pub enum ResumeFrom {
    /// Chinwag: the last position seen in the topic room.
    Chinwag(StreamPos),
    /// Socket.IO: `pid` and the last offset seen.
    SocketIo {
        /// Private session id.
        pid: String,
        /// Last packet offset.
        offset: String,
    },
}

/// Opens a TCP connection from a chosen loopback source address, so tens of
/// thousands of clients do not exhaust one address's ephemeral ports.
pub(crate) async fn tcp(addr: SocketAddr, src: Option<Ipv4Addr>) -> Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    if let Some(ip) = src {
        sock.bind(SocketAddr::from((ip, 0)))?;
    }
    sock.set_nodelay(true)?;
    Ok(sock.connect(addr).await?)
}

pub(crate) async fn next_text(ws: &mut Ws) -> Result<Utf8Bytes> {
    loop {
        let msg = tokio::time::timeout(STEP_TIMEOUT, ws.next())
            .await
            .context("timed out waiting for a frame")?
            .ok_or_else(|| anyhow!("connection closed"))??;
        match msg {
            Message::Text(t) => return Ok(t),
            Message::Close(c) => bail!("closed by server: {c:?}"),
            _ => {}
        }
    }
}

/// Opens an authenticated connection. With `resume`, Chinwag sends
/// `resume` naming the topic with the last position (the caller reads until
/// `resumed`); Socket.IO sends `pid`/`offset` in its CONNECT packet.
pub async fn open(
    proto: Proto,
    addr: SocketAddr,
    src: Option<Ipv4Addr>,
    token: &str,
    resume: Option<&ResumeFrom>,
) -> Result<(Ws, Session)> {
    let stream = tcp(addr, src).await?;
    match proto {
        Proto::Chinwag => {
            // Topic rooms are opt-in: a `resume` naming the topic
            // subscribes it again and replays from the last position seen.
            let url = format!("ws://{addr}/ws?token={token}");
            let (mut ws, _) = client_async_with_config(url, stream, Some(ws_config())).await?;
            let mut session = Session::default();
            let hello = next_text(&mut ws).await?;
            match serde_json::from_str::<ServerFrame>(&hello) {
                Ok(ServerFrame::Hello(h)) => {
                    session.heartbeat =
                        Some(Duration::from_millis(h.heartbeat_interval_ms.max(1000)))
                }
                _ => bail!("expected hello, got {hello}"),
            }
            loop {
                let t = next_text(&mut ws).await?;
                if scan::contains(t.as_bytes(), key!(br#""op":"ready""#)) {
                    break;
                }
                if scan::contains(t.as_bytes(), key!(br#""op":"error""#)) {
                    bail!("identify refused: {t}");
                }
            }
            match resume {
                None => {}
                Some(ResumeFrom::Chinwag(pos)) => {
                    let frame = ClientFrame::Resume(Resume {
                        rooms: [(format!("topic:{TOPIC}"), pos.clone())].into(),
                    });
                    ws.send(Message::text(serde_json::to_string(&frame)?))
                        .await?;
                }
                Some(other) => bail!("cannot resume a chinwag connection from {other:?}"),
            }
            Ok((ws, session))
        }
        Proto::SocketIo => {
            let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
            let (mut ws, _) = client_async_with_config(url, stream, Some(ws_config())).await?;
            let open = next_text(&mut ws).await?;
            if !matches!(eio::parse(&open)?, EioPacket::Open(_)) {
                bail!("expected engine.io open, got {open}");
            }
            let mut auth = json!({ "token": token });
            if let Some(ResumeFrom::SocketIo { pid, offset }) = resume {
                auth["pid"] = json!(pid);
                auth["offset"] = json!(offset);
            }
            ws.send(Message::text(eio::connect(&auth))).await?;
            let mut early = Vec::new();
            loop {
                let t = next_text(&mut ws).await?;
                match eio::parse(&t)? {
                    EioPacket::Ping => ws.send(Message::text("3")).await?,
                    EioPacket::Message(p) if p.kind == SioKind::Connect => {
                        let v: Value = serde_json::from_str(p.data).unwrap_or(Value::Null);
                        let session = Session {
                            heartbeat: None,
                            sio_pid: v.get("pid").and_then(|p| p.as_str()).map(str::to_owned),
                            sio_recovered: resume.is_some(),
                            early,
                        };
                        return Ok((ws, session));
                    }
                    EioPacket::Message(p) if p.kind == SioKind::ConnectError => {
                        bail!("connect refused: {}", p.data)
                    }
                    EioPacket::Message(p) if p.kind == SioKind::Event => early.push(t.clone()),
                    _ => {}
                }
            }
        }
    }
}

/// Subscribes to `topic` and waits for the acknowledgement.
///
/// socketioxide sends its CONNECT answer before its (spawned) connect
/// handler has registered the event handlers, so an emit sent at once can
/// be dropped: the Socket.IO side re-sends an unanswered subscribe, with a
/// fresh ack id, up to five times.
pub async fn subscribe(proto: Proto, ws: &mut Ws, topic: &str) -> Result<Option<StreamPos>> {
    match proto {
        Proto::Chinwag => {
            let frame = ClientFrame::Subscribe(TopicCommand {
                topic: topic.into(),
                nonce: Some("sub".into()),
            });
            ws.send(Message::text(serde_json::to_string(&frame)?))
                .await?;
            loop {
                let t = next_text(ws).await?;
                let b = t.as_bytes();
                if scan::contains(b, key!(br#""op":"ack""#))
                    && scan::contains(b, key!(br#""nonce":"sub""#))
                {
                    let epoch = scan::find_str(b, key!(br#""epoch":"#));
                    let offset = scan::find_u64(b, key!(br#""offset":"#));
                    return Ok(epoch.zip(offset).map(|(epoch, offset)| StreamPos {
                        epoch: epoch.to_owned(),
                        offset,
                    }));
                }
                if scan::contains(b, key!(br#""op":"error""#)) {
                    bail!("subscribe refused: {t}");
                }
            }
        }
        Proto::SocketIo => {
            for attempt in 1..=5u64 {
                ws.send(Message::text(eio::event(
                    "subscribe",
                    &[json!(topic)],
                    Some(attempt),
                )))
                .await?;
                let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
                loop {
                    let Ok(t) = tokio::time::timeout_at(deadline, next_text(ws)).await else {
                        break;
                    };
                    match eio::parse(&t?)? {
                        EioPacket::Ping => ws.send(Message::text("3")).await?,
                        EioPacket::Message(p)
                            if p.kind == SioKind::Ack && p.ack.is_some_and(|a| a <= attempt) =>
                        {
                            return Ok(None);
                        }
                        _ => {}
                    }
                }
            }
            bail!("subscribe was never acknowledged")
        }
    }
}

/// The text of one publish command carrying `seq` and the current time.
/// With `ack`, the server acknowledges it (Chinwag nonce, Socket.IO ack id).
pub fn publish_frame(proto: Proto, seq: u64, ack: Option<u64>) -> Result<String> {
    let data =
        json!({ "ts": now_micros(), "seq": seq, "text": "hello from the chinwag benchmark" });
    Ok(match proto {
        Proto::Chinwag => serde_json::to_string(&ClientFrame::Publish(Publish {
            topic: TOPIC.into(),
            data,
            nonce: ack.map(|a| format!("p{a}")),
        }))?,
        Proto::SocketIo => eio::event("publish", &[json!({ "topic": TOPIC, "data": data })], ack),
    })
}

/// The acknowledgement of [`publish_frame`] with `ack`, if `text` is it.
pub fn is_publish_ack(proto: Proto, text: &str, ack: u64) -> bool {
    match proto {
        Proto::Chinwag => {
            let b = text.as_bytes();
            scan::contains(b, key!(br#""op":"ack""#))
                && scan::find_str(b, key!(br#""nonce":"#)) == Some(&format!("p{ack}"))
        }
        Proto::SocketIo => matches!(
            eio::parse(text),
            Ok(EioPacket::Message(p)) if p.kind == SioKind::Ack && p.ack == Some(ack)
        ),
    }
}

/// A received frame, classified.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A benchmark event: its seq, publish timestamp, and stream position
    /// (Chinwag offset, or the Socket.IO recovery offset).
    Event {
        /// Publisher sequence number.
        seq: u64,
        /// Publish time, µs since the epoch.
        ts: u64,
        /// Chinwag: room offset.
        offset: Option<u64>,
        /// Chinwag: stream epoch.
        epoch: Option<&'a str>,
        /// Socket.IO: recovery offset.
        sio_offset: Option<&'a str>,
    },
    /// The server pinged (Socket.IO): answer `3`.
    Ping,
    /// Chinwag `lagged`: the server dropped something for this client.
    Lagged,
    /// Chinwag `resumed`.
    Resumed(&'a str),
    /// Anything else (pong, ack, ...).
    Other,
}

/// Whether a Chinwag `resumed` frame replayed every room: nothing in
/// `resync`, nothing `denied`.
pub fn resume_is_clean(resumed: &[u8]) -> bool {
    scan::contains(resumed, key!(br#""resync":[]"#))
        && scan::contains(resumed, key!(br#""denied":[]"#))
}

/// Classifies a text frame without a full parse.
pub fn classify(proto: Proto, text: &str) -> Incoming<'_> {
    let b = text.as_bytes();
    match proto {
        Proto::Chinwag => {
            if scan::contains(b, key!(br#""op":"event""#)) {
                if let (Some(seq), Some(ts)) = (
                    scan::find_u64(b, key!(br#""seq":"#)),
                    scan::find_u64(b, key!(br#""ts":"#)),
                ) {
                    return Incoming::Event {
                        seq,
                        ts,
                        offset: scan::find_u64(b, key!(br#""offset":"#)),
                        epoch: scan::find_str(b, key!(br#""epoch":"#)),
                        sio_offset: None,
                    };
                }
                Incoming::Other
            } else if scan::contains(b, key!(br#""op":"lagged""#)) {
                Incoming::Lagged
            } else if scan::contains(b, key!(br#""op":"resumed""#)) {
                Incoming::Resumed(text)
            } else {
                Incoming::Other
            }
        }
        Proto::SocketIo => match b.first() {
            Some(b'2') => Incoming::Ping,
            Some(b'4') if b.get(1) == Some(&b'2') => {
                match (
                    scan::find_u64(b, key!(br#""seq":"#)),
                    scan::find_u64(b, key!(br#""ts":"#)),
                ) {
                    (Some(seq), Some(ts)) => Incoming::Event {
                        seq,
                        ts,
                        offset: None,
                        epoch: None,
                        sio_offset: eio::last_string_arg(&text[2..]),
                    },
                    _ => Incoming::Other,
                }
            }
            _ => Incoming::Other,
        },
    }
}

/// A Chinwag heartbeat frame.
pub const CHINWAG_PING: &str = r#"{"op":"ping"}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_chinwag_frames() {
        let ev = r#"{"op":"event","room":"topic:public.bench","epoch":"e9","offset":5,"type":"TOPIC_MESSAGE","data":{"topic":"public.bench","from":"1","origin_node":"n","data":{"ts":100,"seq":3,"text":"x"}}}"#;
        assert_eq!(
            classify(Proto::Chinwag, ev),
            Incoming::Event {
                seq: 3,
                ts: 100,
                offset: Some(5),
                epoch: Some("e9"),
                sio_offset: None
            }
        );
        assert_eq!(
            classify(
                Proto::Chinwag,
                r#"{"op":"lagged","dropped_ephemeral":0,"rooms":[]}"#
            ),
            Incoming::Lagged
        );
        assert_eq!(
            classify(Proto::Chinwag, r#"{"op":"pong"}"#),
            Incoming::Other
        );
        assert!(matches!(
            classify(Proto::Chinwag, r#"{"op":"resumed","replayed":{}}"#),
            Incoming::Resumed(_)
        ));
    }

    #[test]
    fn classifies_socketio_frames() {
        let ev = r#"42["message",{"topic":"public.bench","from":"1","data":{"ts":100,"seq":3}},"abc-1"]"#;
        assert_eq!(
            classify(Proto::SocketIo, ev),
            Incoming::Event {
                seq: 3,
                ts: 100,
                offset: None,
                epoch: None,
                sio_offset: Some("abc-1")
            }
        );
        assert_eq!(classify(Proto::SocketIo, "2"), Incoming::Ping);
        assert_eq!(classify(Proto::SocketIo, "431[]"), Incoming::Other);
    }

    #[test]
    fn publish_frames_and_acks() {
        let f = publish_frame(Proto::Chinwag, 7, Some(2)).unwrap();
        let v: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["op"], "publish");
        assert_eq!(v["topic"], TOPIC);
        assert_eq!(v["data"]["seq"], 7);
        assert_eq!(v["nonce"], "p2");
        assert!(is_publish_ack(
            Proto::Chinwag,
            r#"{"op":"ack","nonce":"p2"}"#,
            2
        ));
        assert!(!is_publish_ack(
            Proto::Chinwag,
            r#"{"op":"ack","nonce":"p3"}"#,
            2
        ));

        let f = publish_frame(Proto::SocketIo, 7, None).unwrap();
        assert!(f.starts_with(r#"42["publish",{"#));
        assert!(is_publish_ack(Proto::SocketIo, r#"439[{"ok":true}]"#, 9));
    }
}
