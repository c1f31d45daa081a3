//! The outgoing half of a session: turns outbox items into WebSocket
//! messages, writes many per flush, and makes sure each durable event
//! reaches the client once, whether it came live or from a replay.

use std::collections::HashMap;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use chinwag_protocol::server::{Lagged, RoomJoined, RoomLeft};
use chinwag_protocol::{CloseCode, Encoding, RoomPosition, ServerFrame, StreamPos};
use chinwag_realtime::conn::Control;
use chinwag_realtime::{Outgoing, RoomId, SharedFrame};
use futures_util::{Sink, SinkExt};

/// Where a connection stands in one room.
#[derive(Debug, Clone)]
pub struct Cursor {
    /// The stream epoch.
    pub epoch: String,
    /// The client's starting point: events at or before it are not sent
    /// live (the client fetched that state, or it was replayed).
    pub floor: u64,
    /// The highest offset actually sent.
    pub sent: u64,
}

impl Cursor {
    /// The position the client has reached.
    pub fn position(&self) -> u64 {
        self.floor.max(self.sent)
    }

    /// Records `pos` as sent if the client does not have it yet; returns
    /// whether to send it. Live events stop at the floor and at what was
    /// sent; `replayed` ones may go below the floor (the client asked for
    /// them) but never repeat what was sent.
    fn advance(&mut self, pos: &StreamPos, replayed: bool) -> bool {
        let limit = if replayed { self.sent } else { self.position() };
        if self.epoch == pos.epoch && pos.offset <= limit {
            return false;
        }
        if self.epoch != pos.epoch {
            self.epoch = pos.epoch.clone();
            self.floor = 0;
        }
        self.sent = pos.offset;
        true
    }
}

/// What the session loop should do after a write.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    /// Keep going.
    Continue,
    /// Close with this code (already sent).
    Closed,
}

/// The outgoing half.
#[derive(Debug)]
pub struct Writer<S> {
    sink: S,
    encoding: Encoding,
    cursors: HashMap<RoomId, Cursor>,
}

impl<S> Writer<S>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    /// A writer for a sink in an encoding.
    pub fn new(sink: S, encoding: Encoding) -> Writer<S> {
        Writer {
            sink,
            encoding,
            cursors: HashMap::new(),
        }
    }

    /// The connection's encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Sets a room's floor (after a join or resync).
    pub fn set_floor(&mut self, room: &RoomId, pos: &StreamPos) {
        let cursor = self.cursors.entry(room.clone()).or_insert_with(|| Cursor {
            epoch: pos.epoch.clone(),
            floor: 0,
            sent: 0,
        });
        if cursor.epoch != pos.epoch {
            *cursor = Cursor {
                epoch: pos.epoch.clone(),
                floor: pos.offset,
                sent: 0,
            };
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
        let gap_below_live = cursor.epoch == since.epoch
            && since.offset < cursor.floor
            && cursor.sent > cursor.floor;
        gap_below_live.then(|| StreamPos {
            epoch: cursor.epoch.clone(),
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
                        epoch: c.epoch.clone(),
                        offset: c.position(),
                    },
                })
            })
            .collect()
    }

    /// Queues a control frame (not flushed).
    pub async fn feed_frame(&mut self, frame: &ServerFrame) -> Result<(), axum::Error> {
        let bytes = self.encoding.encode(frame).map_err(axum::Error::new)?;
        let message = match self.encoding {
            Encoding::Json => Message::Text(Utf8Bytes::try_from(bytes).map_err(axum::Error::new)?),
            Encoding::MsgPack => Message::Binary(bytes.into()),
        };
        self.sink.feed(message).await
    }

    /// Sends a control frame and flushes.
    pub async fn send_frame(&mut self, frame: &ServerFrame) -> Result<(), axum::Error> {
        self.feed_frame(frame).await?;
        self.sink.flush().await
    }

    /// Queues an event unless the client already has it. Returns whether
    /// it was queued. `replayed` events may go below the floor (the client
    /// asked for them) but never repeat what was sent.
    pub async fn feed_event(
        &mut self,
        frame: &SharedFrame,
        replayed: bool,
    ) -> Result<bool, axum::Error> {
        if let Some(pos) = frame.pos() {
            // `get_mut` first: `entry` needs an owned key, and cloning the
            // room bumps a refcount that every writer of the fan-out
            // shares, on every delivery.
            let fresh = match self.cursors.get_mut(frame.room()) {
                Some(cursor) => cursor.advance(pos, replayed),
                None => {
                    let mut cursor = Cursor {
                        epoch: pos.epoch.clone(),
                        floor: 0,
                        sent: 0,
                    };
                    let fresh = cursor.advance(pos, replayed);
                    self.cursors.insert(frame.room().clone(), cursor);
                    fresh
                }
            };
            if !fresh {
                return Ok(false);
            }
        }
        // Built once per fan-out and shared: the clone is a refcount bump.
        let message = frame
            .transport(self.encoding, |bytes| match self.encoding {
                Encoding::Json => Utf8Bytes::try_from(bytes.clone()).map(Message::Text),
                Encoding::MsgPack => Ok(Message::Binary(bytes.clone())),
            })
            .map_err(axum::Error::new)?;
        self.sink.feed(message).await?;
        Ok(true)
    }

    /// Writes a batch from the outbox and flushes once.
    pub async fn write_batch(&mut self, batch: &mut Vec<Outgoing>) -> Result<After, axum::Error> {
        let mut close = None;
        for item in batch.drain(..) {
            match item {
                Outgoing::Event(frame) => {
                    self.feed_event(&frame, false).await?;
                }
                Outgoing::Control(control) => {
                    // Rare, and the frames are large: boxed so they do not
                    // grow the long-lived session future.
                    if let Some(code) = Box::pin(self.feed_control(*control)).await? {
                        close = Some(code);
                        break;
                    }
                }
            }
        }
        self.sink.flush().await?;
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
    async fn feed_control(&mut self, control: Control) -> Result<Option<CloseCode>, axum::Error> {
        match control {
            Control::Joined(room, pos) => {
                self.set_floor(&room, &pos);
                let frame = ServerFrame::RoomJoined(RoomJoined {
                    room: room.to_string(),
                    position: pos,
                });
                self.feed_frame(&frame).await?;
            }
            Control::Left(room, reason) => {
                self.forget(&room);
                let frame = ServerFrame::RoomLeft(RoomLeft {
                    room: room.to_string(),
                    reason,
                });
                self.feed_frame(&frame).await?;
            }
            Control::Frame(frame) => self.feed_frame(&frame).await?,
            Control::Close(code) => return Ok(Some(code)),
        }
        Ok(None)
    }

    /// Sends a `lagged` frame.
    pub async fn send_lagged(
        &mut self,
        dropped_ephemeral: u64,
        rooms: &[RoomId],
    ) -> Result<(), axum::Error> {
        let frame = ServerFrame::Lagged(Lagged {
            dropped_ephemeral,
            rooms: self.positions(rooms),
        });
        self.send_frame(&frame).await
    }

    /// Sends a close frame with a code (errors ignored: the peer may be
    /// gone already).
    pub async fn close(&mut self, code: CloseCode) {
        let frame = CloseFrame {
            code: code.code(),
            reason: code.reason().into(),
        };
        let _ = self.sink.send(Message::Close(Some(frame))).await;
    }

    /// Flushes queued frames.
    pub async fn flush(&mut self) -> Result<(), axum::Error> {
        self.sink.flush().await
    }
}
