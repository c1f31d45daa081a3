//! Opt-in topics and the cluster bus.

use serde::{Deserialize, Serialize};

use crate::Id;

/// `TOPIC_MESSAGE`: a message published on a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicMessage {
    /// Topic name (the room is `topic:{name}`).
    pub topic: String,
    /// The publishing user, or `None` when a server published.
    pub from: Option<Id>,
    /// The node that published it.
    pub origin_node: String,
    /// Application data.
    pub data: serde_json::Value,
}
