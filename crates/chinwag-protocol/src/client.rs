//! Client→server commands. Every frame is an object with an `op` field.

use serde::{Deserialize, Serialize};

use crate::Id;
use crate::model::PresenceStatus;
use crate::stream::ResumeRequest;

/// A command from the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Authenticate (unless the token came in the URL), optionally resuming.
    Identify(Identify),
    /// Replay what was missed since the given positions.
    Resume(Resume),
    /// Heartbeat.
    Ping(Ping),
    /// Opt into a topic.
    Subscribe(TopicCommand),
    /// Leave a topic.
    Unsubscribe(TopicCommand),
    /// Publish on a topic.
    Publish(Publish),
    /// Show a typing indicator in a channel.
    Typing(Typing),
    /// Swap in a new token without reconnecting.
    Reauth(Reauth),
    /// Set this connection's presence status (online, idle, dnd).
    SetStatus(SetStatus),
    /// Send a message (the same as the REST call).
    SendMessage(SendMessage),
}

impl ClientFrame {
    /// Every command name, for telling "unknown op" from "bad fields".
    pub const OPS: &'static [&'static str] = &[
        "identify",
        "resume",
        "ping",
        "subscribe",
        "unsubscribe",
        "publish",
        "typing",
        "reauth",
        "set_status",
        "send_message",
    ];

    /// The command's nonce, if it carries one.
    pub fn nonce(&self) -> Option<&str> {
        match self {
            ClientFrame::Ping(p) => p.nonce.as_deref(),
            ClientFrame::Subscribe(t) | ClientFrame::Unsubscribe(t) => t.nonce.as_deref(),
            ClientFrame::Publish(p) => p.nonce.as_deref(),
            ClientFrame::SendMessage(m) => Some(&m.nonce),
            _ => None,
        }
    }
}

/// `identify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identify {
    /// The JWT access token.
    pub token: String,
    /// Positions to resume from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumeRequest>,
    /// Initial presence status (default online).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PresenceStatus>,
}

/// `resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// Last position seen per room.
    pub rooms: ResumeRequest,
}

/// `ping`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Echoed in the `pong`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// `subscribe` / `unsubscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicCommand {
    /// Topic name.
    pub topic: String,
    /// Echoed in the `ack` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// `publish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Publish {
    /// Topic name.
    pub topic: String,
    /// Application data.
    pub data: serde_json::Value,
    /// Echoed in the `ack` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// `typing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typing {
    /// Channel id.
    pub channel_id: Id,
}

/// `reauth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reauth {
    /// The new JWT.
    pub token: String,
}

/// `set_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetStatus {
    /// The new status (`offline` is refused: disconnect instead).
    pub status: PresenceStatus,
}

/// `send_message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    /// Channel (or DM channel) id.
    pub channel_id: Id,
    /// Text content.
    pub content: String,
    /// Client nonce: echoed in the `ack` and on the resulting event.
    pub nonce: String,
    /// Reply in this message's thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_parent_id: Option<Id>,
}
