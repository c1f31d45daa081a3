//! [`SharedFrame`]: one event, serialized at most once per encoding and
//! shared by every recipient of a fan-out.

use std::sync::OnceLock;

use bytes::Bytes;
use chinwag_protocol::model::UserRole;
use chinwag_protocol::server::EventFrameRef;
use chinwag_protocol::{Encoding, Event, EventClass, EventKind, StreamPos};

use crate::RoomId;

/// An event in a room, with its stream position, ready to be written to any
/// number of connections. The bytes for each encoding are produced the first
/// time a connection asks for them and then shared.
#[derive(Debug)]
pub struct SharedFrame {
    room: RoomId,
    pos: Option<StreamPos>,
    kind: EventKind,
    only_role: Option<UserRole>,
    event: Event,
    json: OnceLock<Bytes>,
    msgpack: OnceLock<Bytes>,
}

impl SharedFrame {
    /// Wraps an event delivered in `room` at `pos` (`None` for ephemeral
    /// events). `only_role` restricts delivery to connections of one role.
    pub fn new(
        room: RoomId,
        pos: Option<StreamPos>,
        event: Event,
        only_role: Option<UserRole>,
    ) -> SharedFrame {
        let kind = event.kind();
        SharedFrame {
            room,
            pos,
            kind,
            only_role,
            event,
            json: OnceLock::new(),
            msgpack: OnceLock::new(),
        }
    }

    /// Like [`SharedFrame::new`], reusing JSON bytes that arrived from
    /// another node so they are not encoded again.
    pub fn with_json(mut self, json: Bytes) -> SharedFrame {
        self.json = OnceLock::from(json);
        self
    }

    /// The room.
    pub fn room(&self) -> &RoomId {
        &self.room
    }

    /// The stream position (durable events only).
    pub fn pos(&self) -> Option<&StreamPos> {
        self.pos.as_ref()
    }

    /// The offset (durable events only).
    pub fn offset(&self) -> Option<u64> {
        self.pos.as_ref().map(|p| p.offset)
    }

    /// The event type.
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// Durable or ephemeral.
    pub fn class(&self) -> EventClass {
        self.kind.class()
    }

    /// The role this frame is restricted to, if any.
    pub fn only_role(&self) -> Option<UserRole> {
        self.only_role
    }

    /// Whether a connection of `role` may receive it.
    pub fn is_for(&self, role: UserRole) -> bool {
        self.only_role.is_none_or(|r| r == role)
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The frame's bytes in `encoding`, encoded on first use.
    pub fn bytes(&self, encoding: Encoding) -> &Bytes {
        let cell = match encoding {
            Encoding::Json => &self.json,
            Encoding::MsgPack => &self.msgpack,
        };
        cell.get_or_init(|| {
            // Encoding typed frames cannot fail: every field is serializable.
            // An exact-size slice: history keeps these bytes for minutes,
            // and a `Vec` with spare capacity would also cost `Bytes` a
            // second allocation.
            let frame = EventFrameRef {
                room: self.room.as_str(),
                epoch: self.pos.as_ref().map(|p| p.epoch.as_str()),
                offset: self.offset(),
                event: &self.event,
            };
            let bytes = encoding.encode(&frame).unwrap_or_default();
            Bytes::from(bytes.into_boxed_slice())
        })
    }
}
