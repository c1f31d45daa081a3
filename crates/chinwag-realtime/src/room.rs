//! Room names. A room is `kind:key`, e.g. `channel:42` or `topic:public.news`.

use std::fmt;
use std::sync::Arc;

use chinwag_protocol::Id;

use crate::HubError;

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

/// A room name, cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(Arc<str>);

impl RoomId {
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
        Ok(RoomId(name.into()))
    }

    /// `user:{id}`.
    pub fn user(id: Id) -> RoomId {
        RoomId(format!("user:{id}").into())
    }

    /// `community:{id}`.
    pub fn community(id: Id) -> RoomId {
        RoomId(format!("community:{id}").into())
    }

    /// `channel:{id}`.
    pub fn channel(id: Id) -> RoomId {
        RoomId(format!("channel:{id}").into())
    }

    /// `dm:{id}`.
    pub fn dm(id: Id) -> RoomId {
        RoomId(format!("dm:{id}").into())
    }

    /// `conn:{id}`.
    pub fn conn(id: crate::ConnId) -> RoomId {
        RoomId(format!("conn:{id}").into())
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
