//! Packs: several consecutive durable events of one room stored as one
//! JetStream message, so a run of publishes is appended in one round trip.
//! A pack's message carries `Chinwag-Count` (how many events) and its
//! payload is each room payload prefixed by its length (u32, big endian);
//! a message without `Chinwag-Count` holds one event, stored as is. The
//! stream bounds messages per room, so a room written in packs may keep
//! more than the history's length in events; replay serves the last
//! `max_len` only.

use async_nats::HeaderMap;
use bytes::Bytes;
use chinwag_protocol::StreamPos;
use chinwag_protocol::model::UserRole;

use super::chain::header;
use crate::engine::broker::{EncodedEvent, room_payload};
use crate::{HubError, RoomId};

/// The header holding a pack's event count.
pub(super) const COUNT: &str = "Chinwag-Count";
/// Most events in one pack.
pub(super) const MAX_PACK: usize = 64;
/// Most payload bytes in one pack (NATS refuses messages over its
/// `max_payload`, 1 MiB by default).
pub(super) const MAX_PACK_BYTES: usize = 256 * 1024;

/// A durable event to append, with the role it is restricted to.
pub(super) type Durable = (EncodedEvent, Option<UserRole>);

/// Durable events of one room waiting to be appended together.
#[derive(Default)]
pub(super) struct Pack {
    room: Option<RoomId>,
    events: Vec<Durable>,
    bytes: usize,
}

impl Pack {
    /// Whether `encoded` for `room` may join this pack (an empty pack takes
    /// anything).
    pub fn takes(&self, room: &RoomId, encoded: &EncodedEvent) -> bool {
        match &self.room {
            None => true,
            Some(current) => {
                current == room
                    && self.events.len() < MAX_PACK
                    && self.bytes + encoded.len() <= MAX_PACK_BYTES
            }
        }
    }

    pub fn push(&mut self, room: RoomId, encoded: EncodedEvent, role: Option<UserRole>) {
        self.bytes += encoded.len();
        self.room = Some(room);
        self.events.push((encoded, role));
    }

    /// Empties the pack: its room and events, if any.
    pub fn take(&mut self) -> Option<(RoomId, Vec<Durable>)> {
        self.bytes = 0;
        Some((self.room.take()?, std::mem::take(&mut self.events)))
    }
}

/// The stored payload of a pack: one room payload, or each prefixed by its
/// length.
pub(super) fn pack(events: &[Durable], positions: &[StreamPos]) -> Bytes {
    if let [(encoded, role)] = events {
        return Bytes::from(room_payload(*role, &encoded.at(&positions[0])));
    }
    let mut out = Vec::new();
    for ((encoded, role), pos) in events.iter().zip(positions) {
        let payload = room_payload(*role, &encoded.at(pos));
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
    }
    Bytes::from(out)
}

/// The room payloads a stored (or republished) message holds, in offset
/// order; sharing its bytes.
pub(super) fn unpack(headers: Option<&HeaderMap>, payload: Bytes) -> Result<Vec<Bytes>, HubError> {
    let count: usize = match header(headers, COUNT) {
        None => return Ok(vec![payload]),
        Some(count) => count
            .parse()
            .map_err(|_| HubError::Engine("bad event count".into()))?,
    };
    let mut out = Vec::with_capacity(count);
    let mut rest = payload;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes(rest[..4].try_into().expect("four bytes")) as usize;
        if rest.len() < 4 + len {
            break;
        }
        out.push(rest.slice(4..4 + len));
        rest = rest.slice(4 + len..);
    }
    if out.len() != count || !rest.is_empty() {
        return Err(HubError::Engine("bad event pack".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chinwag_protocol::Event;
    use chinwag_protocol::event::topic::TopicMessage;

    use chinwag_protocol::StreamPos;

    use super::*;
    use crate::RoomId;
    use crate::engine::broker::decode_room_payload;

    fn event(n: i64) -> (EncodedEvent, Option<UserRole>) {
        let room = RoomId::topic("t").unwrap();
        let event = Event::TopicMessage(TopicMessage {
            topic: "t".into(),
            from: None,
            origin_node: "n".into(),
            data: serde_json::json!({ "n": n }),
        });
        (
            EncodedEvent::new(&room, event).unwrap(),
            Some(UserRole::Bot),
        )
    }

    fn headers(count: usize) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COUNT, count.to_string().as_str());
        headers
    }

    #[test]
    fn a_pack_unpacks_into_its_events_in_order() {
        let events: Vec<_> = (1..=3).map(event).collect();
        let positions: Vec<_> = (8..=10)
            .map(|offset| StreamPos {
                epoch: "e".into(),
                offset,
            })
            .collect();
        let packed = pack(&events, &positions);
        let payloads = unpack(Some(&headers(3)), packed.clone()).unwrap();
        for ((payload, (encoded, role)), pos) in payloads.iter().zip(&events).zip(&positions) {
            assert_eq!(payload[..], room_payload(*role, &encoded.at(pos))[..]);
            let frame = decode_room_payload(payload.clone()).unwrap();
            assert_eq!(frame.offset(), Some(pos.offset));
        }
        // A lone event is stored as is.
        let single = pack(&events[..1], &positions[..1]);
        assert_eq!(unpack(None, single.clone()).unwrap(), vec![single]);
        // A count that disagrees, or a cut payload, is refused.
        assert!(unpack(Some(&headers(2)), packed.clone()).is_err());
        assert!(unpack(Some(&headers(3)), packed.slice(..packed.len() - 1)).is_err());
    }
}
