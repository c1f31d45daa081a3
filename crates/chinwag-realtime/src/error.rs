//! Hub errors.

/// What can go wrong in the hub or an engine.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HubError {
    /// A room name that is not `kind:id`.
    #[error("invalid room name `{0}`")]
    InvalidRoom(String),
    /// A role-specific event broadcast to a room that may mix roles.
    #[error("event {0} is not shared by all roles and cannot go to room {1}")]
    NotShared(&'static str, String),
    /// The engine (broker) failed.
    #[error("engine: {0}")]
    Engine(String),
    /// The connection is not on this node or no longer exists.
    #[error("unknown connection")]
    UnknownConn,
}
