//! Where a connection stands in each of its rooms.

use std::cmp::Ordering;

use chinwag_protocol::StreamPos;
use chinwag_realtime::RoomId;

/// Epochs up to this long are kept inside the cursor.
const INLINE_EPOCH: usize = 22;

/// A stream epoch, kept inside its cursor: a cursor is read on every
/// delivery, and an epoch in an allocation of its own would cost a cache
/// miss per delivery in a large fan-out. The engines make 16 hex digits;
/// anything longer than 22 bytes is kept on the heap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Epoch {
    /// The epoch's bytes, in place.
    Inline {
        /// Bytes used.
        len: u8,
        /// The bytes.
        bytes: [u8; INLINE_EPOCH],
    },
    /// A longer epoch.
    Heap(Box<str>),
}

impl Epoch {
    /// Keeps `epoch`.
    pub fn new(epoch: &str) -> Epoch {
        if epoch.len() > INLINE_EPOCH {
            return Epoch::Heap(epoch.into());
        }
        let mut bytes = [0; INLINE_EPOCH];
        bytes[..epoch.len()].copy_from_slice(epoch.as_bytes());
        Epoch::Inline {
            len: epoch.len() as u8,
            bytes,
        }
    }

    /// Whether this is `epoch`.
    pub fn is(&self, epoch: &str) -> bool {
        self.as_bytes() == epoch.as_bytes()
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Epoch::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Epoch::Heap(epoch) => epoch.as_bytes(),
        }
    }
}

impl std::fmt::Display for Epoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Made from a `&str`, whole, so always UTF-8.
        f.write_str(std::str::from_utf8(self.as_bytes()).unwrap_or_default())
    }
}

/// Where a connection stands in one room.
#[derive(Debug, Clone)]
pub struct Cursor {
    /// The stream epoch.
    pub epoch: Epoch,
    /// The client's starting point: events at or before it are not sent
    /// live (the client fetched that state, or it was replayed).
    pub floor: u64,
    /// The highest offset actually sent.
    pub sent: u64,
}

impl Cursor {
    /// A cursor in `epoch` with nothing sent, from `floor`.
    pub fn starting(epoch: &str, floor: u64) -> Cursor {
        Cursor {
            epoch: Epoch::new(epoch),
            floor,
            sent: 0,
        }
    }

    /// The position the client has reached.
    pub fn position(&self) -> u64 {
        self.floor.max(self.sent)
    }

    /// Records `pos` as sent if the client does not have it yet; returns
    /// whether to send it. Live events stop at the floor and at what was
    /// sent; `replayed` ones may go below the floor (the client asked for
    /// them) but never repeat what was sent.
    pub(super) fn advance(&mut self, pos: &StreamPos, replayed: bool) -> bool {
        let limit = if replayed { self.sent } else { self.position() };
        let same_epoch = self.epoch.is(&pos.epoch);
        if same_epoch && pos.offset <= limit {
            return false;
        }
        if !same_epoch {
            self.epoch = Epoch::new(&pos.epoch);
            self.floor = 0;
        }
        self.sent = pos.offset;
        true
    }
}

/// The cursors of one connection: a `Vec` sorted by room. Most
/// connections are in a handful of rooms, so this is as fast as a hash map
/// to search, and one room costs one exact allocation rather than a table.
#[derive(Debug, Default)]
pub struct Cursors(Vec<(RoomId, Cursor)>);

/// The search order: name length first, then the name. The length sits in
/// the entry itself, so a probe of another length reads no string, and
/// room names are interned, so the same room is a pointer check (reading
/// the name would be a cache miss per delivery in a large fan-out).
fn search_order(entry: &RoomId, room: &RoomId) -> Ordering {
    let (entry, room) = (entry.as_str(), room.as_str());
    entry.len().cmp(&room.len()).then_with(|| {
        if std::ptr::eq(entry, room) {
            Ordering::Equal
        } else {
            entry.cmp(room)
        }
    })
}

impl Cursors {
    fn find(&self, room: &RoomId) -> Result<usize, usize> {
        self.0.binary_search_by(|(r, _)| search_order(r, room))
    }

    /// The room's cursor.
    pub fn get(&self, room: &RoomId) -> Option<&Cursor> {
        self.find(room).ok().map(|at| &self.0[at].1)
    }

    /// The room's cursor, made by `make` if there is none.
    pub fn get_or_insert_with(
        &mut self,
        room: &RoomId,
        make: impl FnOnce() -> Cursor,
    ) -> &mut Cursor {
        let at = match self.find(room) {
            Ok(at) => at,
            Err(at) => {
                if self.0.capacity() == 0 {
                    self.0.reserve_exact(1);
                }
                self.0.insert(at, (room.clone(), make()));
                at
            }
        };
        &mut self.0[at].1
    }

    /// Forgets a room.
    pub fn remove(&mut self, room: &RoomId) {
        if let Ok(at) = self.find(room) {
            self.0.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(offset: u64) -> Cursor {
        Cursor::starting("e", offset)
    }

    #[test]
    fn an_epoch_of_any_length_is_kept_whole() {
        let short = "0123456789abcdef";
        let long = "an epoch longer than the inline space";
        for epoch in [short, long, ""] {
            let kept = Epoch::new(epoch);
            assert!(kept.is(epoch));
            assert_eq!(kept.to_string(), epoch);
            assert!(!kept.is(&format!("{epoch}0")));
        }
        assert!(matches!(Epoch::new(short), Epoch::Inline { .. }));
        assert!(!Epoch::new(short).is("0123456789abcdeF"));
    }

    #[test]
    fn rooms_are_found_after_inserts_and_removals_in_any_order() {
        // Names of equal and of different lengths.
        let rooms: Vec<RoomId> = [5, 1, 9999, 3, 77]
            .iter()
            .map(|n| RoomId::parse(&format!("topic:t{n}")).unwrap())
            .collect();
        let mut cursors = Cursors::default();
        for (i, room) in rooms.iter().enumerate() {
            cursors.get_or_insert_with(room, || cursor(i as u64));
        }
        assert_eq!(cursors.0.capacity(), 8, "grows normally after the first");
        cursors.remove(&rooms[2]);
        assert!(cursors.get(&rooms[2]).is_none());
        for (i, room) in rooms.iter().enumerate().filter(|(i, _)| *i != 2) {
            assert_eq!(cursors.get(room).unwrap().floor, i as u64);
            // Another allocation of the same name is the same room.
            let copy = RoomId::parse(room.as_str()).unwrap();
            assert_eq!(cursors.get(&copy).unwrap().floor, i as u64);
            // An existing cursor is returned, not replaced.
            assert_eq!(
                cursors.get_or_insert_with(room, || cursor(99)).floor,
                i as u64
            );
        }
        let mut one = Cursors::default();
        one.get_or_insert_with(&rooms[0], || cursor(0));
        assert_eq!(one.0.capacity(), 1, "one room, one exact allocation");
    }
}
