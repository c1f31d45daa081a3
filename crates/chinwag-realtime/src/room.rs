//! Room names. A room is `kind:key`, e.g. `channel:42` or `topic:public.news`.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use chinwag_protocol::Id;

use crate::HubError;
use crate::conn::lock;

/// The kinds of room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoomKind {
    /// All connections of one user.
    User,
    /// Everyone in a community.
    Community,
    /// Everyone who can see a channel.
    Channel,
    /// The participants of a DM.
    Dm,
    /// An opt-in topic.
    Topic,
    /// One connection (`conn:{hex id}`): the label on `to_conn` frames.
    /// Nobody joins it.
    Conn,
}

/// A room name, cheap to clone. Every `RoomId` of one room shares one
/// allocation while any is alive (names are interned), so comparing two is
/// a pointer check: the fan-out compares a frame's room with a
/// connection's cursor on every delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(Arc<str>);

/// The names of live rooms. An entry only this table holds is dropped by
/// the next sweep, which runs whenever the table has doubled since the
/// last one, so its cost is spread over the insertions that grew it.
#[derive(Default)]
struct Names {
    live: HashSet<Arc<str>>,
    sweep_at: usize,
}

static NAMES: LazyLock<Mutex<Names>> = LazyLock::new(Mutex::default);

/// Sweeps start once the table holds this many names.
const FIRST_SWEEP: usize = 1024;

impl RoomId {
    /// The shared allocation for `name`.
    fn interned(name: &str) -> RoomId {
        let mut names = lock(&NAMES);
        if let Some(live) = names.live.get(name) {
            return RoomId(live.clone());
        }
        if names.live.len() >= names.sweep_at.max(FIRST_SWEEP) {
            names.live.retain(|n| Arc::strong_count(n) > 1);
            names.sweep_at = names.live.len() * 2;
        }
        let live: Arc<str> = name.into();
        names.live.insert(live.clone());
        RoomId(live)
    }

    /// Parses and validates a room name.
    pub fn parse(name: &str) -> Result<RoomId, HubError> {
        let invalid = || HubError::InvalidRoom(name.chars().take(80).collect());
        let (kind, key) = name.split_once(':').ok_or_else(invalid)?;
        if key.is_empty() || name.len() > 200 {
            return Err(invalid());
        }
        match kind {
            "user" | "community" | "channel" | "dm" => {
                key.parse::<i64>().map_err(|_| invalid())?;
            }
            "conn" => {
                u64::from_str_radix(key, 16).map_err(|_| invalid())?;
            }
            "topic" => {
                if !key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
                {
                    return Err(invalid());
                }
            }
            _ => return Err(invalid()),
        }
        Ok(RoomId::interned(name))
    }

    /// `user:{id}`.
    pub fn user(id: Id) -> RoomId {
        RoomId::interned(&format!("user:{id}"))
    }

    /// `community:{id}`.
    pub fn community(id: Id) -> RoomId {
        RoomId::interned(&format!("community:{id}"))
    }

    /// `channel:{id}`.
    pub fn channel(id: Id) -> RoomId {
        RoomId::interned(&format!("channel:{id}"))
    }

    /// `dm:{id}`.
    pub fn dm(id: Id) -> RoomId {
        RoomId::interned(&format!("dm:{id}"))
    }

    /// `conn:{id}`.
    pub fn conn(id: crate::ConnId) -> RoomId {
        RoomId::interned(&format!("conn:{id}"))
    }

    /// `topic:{name}`, validating the name.
    pub fn topic(name: &str) -> Result<RoomId, HubError> {
        RoomId::parse(&format!("topic:{name}"))
    }

    /// The room's kind.
    pub fn kind(&self) -> RoomKind {
        match self.0.split_once(':').map(|(k, _)| k) {
            Some("user") => RoomKind::User,
            Some("community") => RoomKind::Community,
            Some("channel") => RoomKind::Channel,
            Some("dm") => RoomKind::Dm,
            Some("conn") => RoomKind::Conn,
            _ => RoomKind::Topic,
        }
    }

    /// The part after `kind:`.
    pub fn key(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, k)| k)
    }

    /// The numeric id of a `user:`, `community:`, `channel:` or `dm:` room.
    pub fn id(&self) -> Option<Id> {
        self.key().parse().ok()
    }

    /// The full name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_room_is_one_allocation_and_dead_names_are_swept() {
        let a = RoomId::channel(Id(4242));
        let b = RoomId::parse("channel:4242").unwrap();
        assert!(Arc::ptr_eq(&a.0, &b.0));
        let other = RoomId::channel(Id(4243));
        assert!(!Arc::ptr_eq(&a.0, &other.0));
        for i in 0..5 * FIRST_SWEEP {
            drop(RoomId::topic(&format!("swept-{i}")).unwrap());
        }
        let held = lock(&NAMES).live.len();
        assert!(held <= 2 * FIRST_SWEEP, "{held} names held");
        let c = RoomId::channel(Id(4242));
        assert!(Arc::ptr_eq(&a.0, &c.0), "a live room survives sweeps");
    }

    #[test]
    fn parses_kinds_and_rejects_garbage() {
        assert_eq!(
            RoomId::parse("channel:42").unwrap().kind(),
            RoomKind::Channel
        );
        assert_eq!(RoomId::parse("user:7").unwrap().id(), Some(Id(7)));
        assert_eq!(
            RoomId::parse("topic:public.news").unwrap().kind(),
            RoomKind::Topic
        );
        for bad in [
            "",
            "channel",
            "channel:",
            "channel:x",
            "nope:1",
            "topic:a b",
        ] {
            assert!(RoomId::parse(bad).is_err(), "{bad}");
        }
    }
}
