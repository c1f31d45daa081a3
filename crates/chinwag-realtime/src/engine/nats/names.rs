//! Every subject, stream and bucket name the engine uses, under one prefix.

use crate::RoomId;

/// Names for one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Names {
        Names {
            prefix: prefix.to_string(),
        }
    }

    /// A room name as one subject token: `.` separates tokens, so it is
    /// written `%` (which room names never contain).
    fn token(room: &RoomId) -> String {
        room.as_str().replace('.', "%")
    }

    /// The JetStream stream holding every room's history.
    pub fn stream(&self) -> String {
        format!("{}_rooms", self.prefix)
    }

    /// Subjects the stream captures.
    pub fn stream_subjects(&self) -> String {
        format!("{}.r.>", self.prefix)
    }

    /// Where the stream republishes what it stored (the fan-out).
    pub fn republish_subjects(&self) -> String {
        format!("{}.f.>", self.prefix)
    }

    /// A room's history subject (publish durable events here).
    pub fn room(&self, room: &RoomId) -> String {
        format!("{}.r.{}", self.prefix, Self::token(room))
    }

    /// A room's fan-out subject (subscribe here; ephemeral events are
    /// published here directly).
    pub fn fanout(&self, room: &RoomId) -> String {
        format!("{}.f.{}", self.prefix, Self::token(room))
    }

    /// A node's `to_conn` subject.
    pub fn node(&self, tag: u32) -> String {
        format!("{}.n.{tag:06x}", self.prefix)
    }

    /// The JetStream stream holding the control log.
    pub fn control_stream(&self) -> String {
        format!("{}_control", self.prefix)
    }

    /// The control log's subject (publish control messages here).
    pub fn control_log(&self) -> String {
        format!("{}.ctl.log", self.prefix)
    }

    /// Where the control stream republishes what it stored (subscribe here).
    pub fn control_live(&self) -> String {
        format!("{}.ctl.live", self.prefix)
    }

    /// The presence bucket (key `u{user}`).
    pub fn presence_bucket(&self) -> String {
        format!("{}_presence", self.prefix)
    }

    /// The per-node connection index bucket (key: node tag).
    pub fn node_conns_bucket(&self) -> String {
        format!("{}_nodeconns", self.prefix)
    }

    /// The liveness bucket (key: node tag; entries live `node_ttl`).
    pub fn alive_bucket(&self) -> String {
        format!("{}_alive", self.prefix)
    }

    /// The bucket of reaped-node marks (key: node tag; entries live a day).
    pub fn reaped_bucket(&self) -> String {
        format!("{}_reaped", self.prefix)
    }

    /// A node's key in the liveness, index and reaped buckets.
    pub fn node_key(tag: u32) -> String {
        format!("{tag:06x}")
    }
}
