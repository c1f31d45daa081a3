//! Every Redis key and channel the engine uses, all under one prefix.
//!
//! A room's stream keys share a hash tag (`{room}`), so the script that
//! touches both stays on one slot.

use chinwag_protocol::Id;

use crate::{ConnId, RoomId};

/// Key and channel names for one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_string(),
        }
    }

    /// The room's stream metadata hash: `epoch` and `head`.
    pub fn meta(&self, room: &RoomId) -> String {
        format!("{}:s:{{{room}}}:m", self.prefix)
    }

    /// The room's history (a Redis stream; entry ids are `offset-millis`).
    pub fn log(&self, room: &RoomId) -> String {
        format!("{}:s:{{{room}}}:l", self.prefix)
    }

    /// The room's pub/sub channel.
    pub fn room_channel(&self, room: &RoomId) -> String {
        format!("{}:r:{room}", self.prefix)
    }

    /// A node's `to_conn` channel.
    pub fn node_channel(&self, tag: u32) -> String {
        format!("{}:n:{tag:06x}", self.prefix)
    }

    /// The control broadcast channel.
    pub fn control_channel(&self) -> String {
        format!("{}:ctl", self.prefix)
    }

    /// The control log's hash (`epoch`, `head`); it never expires.
    pub fn control_meta(&self) -> String {
        format!("{}:ctl:m", self.prefix)
    }

    /// The control log (a stream; entry ids are `offset-0`).
    pub fn control_log(&self) -> String {
        format!("{}:ctl:l", self.prefix)
    }

    /// Prefix of the per-user presence keys (`{prefix}{user}` is the hash
    /// with `status` and `v`, `{prefix}{user}:c` the set of connections).
    pub fn presence_prefix(&self) -> String {
        format!("{}:p:", self.prefix)
    }

    /// A user's presence hash.
    pub fn presence(&self, user: Id) -> String {
        format!("{}{user}", self.presence_prefix())
    }

    /// A user's connection set.
    pub fn presence_conns(&self, user: Id) -> String {
        format!("{}{user}:c", self.presence_prefix())
    }

    /// The set of `user:conn` entries registered by a node.
    pub fn node_conns(&self, tag: u32) -> String {
        format!("{}:nc:{tag:06x}", self.prefix)
    }

    /// The member of [`Keys::node_conns`] for one connection.
    pub fn node_member(user: Id, conn: ConnId) -> String {
        format!("{user}:{conn}")
    }

    /// A node's liveness key (refreshed with a TTL).
    pub fn alive(&self, tag: u32) -> String {
        format!("{}:alive:{tag:06x}", self.prefix)
    }

    /// The mark other nodes leave on a node whose connections they reaped.
    pub fn reaped(&self, tag: u32) -> String {
        format!("{}:reaped:{tag:06x}", self.prefix)
    }

    /// The set of node tags that registered connections.
    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }
}
