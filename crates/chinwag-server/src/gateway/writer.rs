//! The outgoing half of a session: turns outbox items into WebSocket
//! messages, writes many per flush, and makes sure each durable event
//! reaches the client once, whether it came live or from a replay.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chinwag_protocol::server::{Lagged, RoomJoined, RoomLeft};
use chinwag_protocol::{CloseCode, Encoding, RoomPosition, ServerFrame, StreamPos};
use chinwag_realtime::conn::Control;
use chinwag_realtime::{Outgoing, RoomId, SharedFrame};

use super::cursor::{Cursor, Cursors};
use super::ws::{OpCode, Socket, Upgraded};
use crate::metrics::Metrics;

/// What the session loop should do after a write.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    /// Keep going.
    Continue,
    /// Close with this code (already sent).
    Closed,
}

/// A payload the writer queues on its socket.
#[derive(Debug)]
pub enum Wire {
    /// A control frame's own bytes.
    Own(Bytes),
    /// An event's shared encoding. The queue holds the frame itself: a
    /// delivery adds no reference count on bytes every recipient shares.
    Event(Arc<SharedFrame>, Encoding),
}

impl AsRef<[u8]> for Wire {
    fn as_ref(&self) -> &[u8] {
        match self {
            Wire::Own(bytes) => bytes,
            Wire::Event(frame, encoding) => frame.bytes(*encoding),
        }
    }
}

impl From<Bytes> for Wire {
    fn from(bytes: Bytes) -> Wire {
        Wire::Own(bytes)
    }
}

/// The socket a session owns.
pub type WireSocket = Socket<Upgraded, Wire>;

/// The outgoing half. It owns the socket; the session reads through
/// [`Writer::socket`].
#[derive(Debug)]
pub struct Writer {
    socket: WireSocket,
    encoding: Encoding,
    cursors: Cursors,
    /// How long [`Writer::close`] waits, after its close frame, for the
    /// client to close too (`gateway.close_timeout_ms`).
    close_timeout_ms: u32,
    /// How long one flush may take (`gateway.heartbeat_timeout_ms`): a
    /// client that stops reading cannot hold its session in a write.
    stall_timeout: Duration,
    /// The client's address, for the log lines about this connection.
    client: Option<IpAddr>,
    /// Counts the closes.
    metrics: Arc<Metrics>,
}

/// A client's address in a log line: the address, or `unknown`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("unknown"),
        }
    }
}

impl Writer {
    /// A writer for a socket in an encoding, whose close waits at most
    /// `close_timeout` for the client's, and whose flushes fail after
    /// `stall_timeout`. `client` is the client's address; `metrics` counts
    /// the closes.
    pub fn new(
        socket: WireSocket,
        encoding: Encoding,
        close_timeout: Duration,
        stall_timeout: Duration,
        client: Option<IpAddr>,
        metrics: Arc<Metrics>,
    ) -> Writer {
        Writer {
            socket,
            encoding,
            cursors: Cursors::default(),
            close_timeout_ms: u32::try_from(close_timeout.as_millis()).unwrap_or(u32::MAX),
            stall_timeout,
            client,
            metrics,
        }
    }

    /// The client's address (the peer's, or the trusted proxy's
    /// `X-Forwarded-For`), for logs.
    pub fn client(&self) -> ClientAddr {
        ClientAddr(self.client)
    }

    /// The connection's encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The socket, to read from.
    pub fn socket(&mut self) -> &mut WireSocket {
        &mut self.socket
    }

    /// The frame type that carries this encoding.
    fn opcode(&self) -> OpCode {
        match self.encoding {
            Encoding::Json => OpCode::Text,
            Encoding::MsgPack => OpCode::Binary,
        }
    }

    /// Sets a room's floor (after a join or resync).
    pub fn set_floor(&mut self, room: &RoomId, pos: &StreamPos) {
        let cursor = self
            .cursors
            .get_or_insert_with(room, || Cursor::starting(&pos.epoch, 0));
        if !cursor.epoch.is(&pos.epoch) {
            *cursor = Cursor::starting(&pos.epoch, pos.offset);
        } else {
            cursor.floor = cursor.floor.max(pos.offset);
        }
    }

    /// The room's cursor.
    pub fn cursor(&self, room: &RoomId) -> Option<&Cursor> {
        self.cursors.get(room)
    }

    /// Where a resume from `since` must resync instead: live events past
    /// the floor already went out, and `since` lies below the floor, so the
    /// gap could only be sent out of order. Returns the position reached.
    pub fn live_ahead(&self, room: &RoomId, since: &StreamPos) -> Option<StreamPos> {
        let cursor = self.cursors.get(room)?;
        let gap_below_live = cursor.epoch.is(&since.epoch)
            && since.offset < cursor.floor
            && cursor.sent > cursor.floor;
        gap_below_live.then(|| StreamPos {
            epoch: cursor.epoch.to_string(),
            offset: cursor.sent,
        })
    }

    /// Forgets a room.
    pub fn forget(&mut self, room: &RoomId) {
        self.cursors.remove(room);
    }

    /// Positions of every room (for `lagged`).
    pub fn positions(&self, rooms: &[RoomId]) -> Vec<RoomPosition> {
        rooms
            .iter()
            .filter_map(|room| {
                self.cursors.get(room).map(|c| RoomPosition {
                    room: room.to_string(),
                    pos: StreamPos {
                        epoch: c.epoch.to_string(),
                        offset: c.position(),
                    },
                })
            })
            .collect()
    }

    /// Queues a control frame (not flushed).
    pub fn feed_frame(&mut self, frame: &ServerFrame) -> io::Result<()> {
        let bytes = self.encoding.encode(frame).map_err(io::Error::other)?;
        self.socket
            .feed(self.opcode(), Wire::Own(Bytes::from(bytes)));
        Ok(())
    }

    /// Sends a control frame and flushes.
    pub async fn send_frame(&mut self, frame: &ServerFrame) -> io::Result<()> {
        self.feed_frame(frame)?;
        self.flush().await
    }

    /// Queues an event unless the client already has it. Returns whether
    /// it was queued. `replayed` events may go below the floor (the client
    /// asked for them) but never repeat what was sent.
    pub fn feed_event(&mut self, frame: Arc<SharedFrame>, replayed: bool) -> bool {
        if let Some(pos) = frame.pos() {
            let cursor = self
                .cursors
                .get_or_insert_with(frame.room(), || Cursor::starting(&pos.epoch, 0));
            let fresh = cursor.advance(pos, replayed);
            if !fresh {
                return false;
            }
        }
        // Encoded once per fan-out and shared by every recipient.
        let opcode = self.opcode();
        self.socket.feed(opcode, Wire::Event(frame, self.encoding));
        true
    }

    /// Writes a batch from the outbox and flushes once.
    pub async fn write_batch(&mut self, batch: &mut Vec<Outgoing>) -> io::Result<After> {
        let mut close = None;
        for item in batch.drain(..) {
            match item {
                Outgoing::Event(frame) => {
                    self.feed_event(frame, false);
                }
                Outgoing::Control(control) => {
                    if let Some(code) = self.feed_control(*control)? {
                        close = Some(code);
                        break;
                    }
                }
            }
        }
        self.flush().await?;
        match close {
            Some(code) => {
                self.close(code).await;
                Ok(After::Closed)
            }
            None => Ok(After::Continue),
        }
    }

    /// Queues a control message's frame; returns the close code if it is a
    /// close.
    fn feed_control(&mut self, control: Control) -> io::Result<Option<CloseCode>> {
        match control {
            Control::Joined(room, pos) => {
                self.set_floor(&room, &pos);
                let frame = ServerFrame::RoomJoined(RoomJoined {
                    room: room.to_string(),
                    position: pos,
                });
                self.feed_frame(&frame)?;
            }
            Control::Left(room, reason) => {
                self.forget(&room);
                let frame = ServerFrame::RoomLeft(RoomLeft {
                    room: room.to_string(),
                    reason,
                });
                self.feed_frame(&frame)?;
            }
            Control::Frame(frame) => self.feed_frame(&frame)?,
            Control::Close(code) => return Ok(Some(code)),
        }
        Ok(None)
    }

    /// Sends a `lagged` frame.
    pub async fn send_lagged(
        &mut self,
        dropped_ephemeral: u64,
        rooms: &[RoomId],
    ) -> io::Result<()> {
        let frame = ServerFrame::Lagged(Lagged {
            dropped_ephemeral,
            rooms: self.positions(rooms),
        });
        self.send_frame(&frame).await
    }

    /// Sends a close frame with a code, then waits (at most the close
    /// timeout) for the client to close too, so that dropping the socket
    /// does not reset it ([`Socket::linger`]). Errors are ignored: the peer
    /// may be gone.
    pub async fn close(&mut self, code: CloseCode) {
        self.metrics.session_closed(code.code());
        let linger = Duration::from_millis(u64::from(self.close_timeout_ms));
        let closing = self.socket.close(code.code(), code.reason());
        if tokio::time::timeout(linger, closing).await.is_ok() {
            let _ = tokio::time::timeout(linger, self.socket.linger()).await;
        }
    }

    /// Flushes queued frames; `TimedOut` if that takes longer than the
    /// stall timeout (the client is not reading). Most flushes finish at
    /// once, and those arm no timer (this runs per batch in every fan-out).
    pub async fn flush(&mut self) -> io::Result<()> {
        let mut flushing = std::pin::pin!(self.socket.flush());
        if let Some(flushed) = futures_util::FutureExt::now_or_never(&mut flushing) {
            return flushed;
        }
        match tokio::time::timeout(self.stall_timeout, flushing).await {
            Ok(flushed) => flushed,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "a write to the client did not finish within the heartbeat timeout",
            )),
        }
    }
}
