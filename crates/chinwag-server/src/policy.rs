//! [`Policy`]: the server-side permission hook the gateway asks before any
//! room join, topic subscription, publish or replayed event. The chat domain
//! provides the real one; [`OpenPolicy`] is the foundation's default.

use std::future::Future;
use std::pin::Pin;

use chinwag_realtime::{RoomId, SharedFrame};

use crate::ApiError;
use crate::auth::Identity;

/// A boxed future (policy calls happen per connect or command, not per
/// delivery).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a user may see and do on the stream.
pub trait Policy: Send + Sync + 'static {
    /// Every room the user's connections join at identify (besides the
    /// user's own `user:` room, which is always joined).
    fn rooms_for<'a>(&'a self, who: &'a Identity) -> BoxFuture<'a, Result<Vec<RoomId>, ApiError>>;

    /// May the user subscribe to this topic?
    fn can_subscribe<'a>(&'a self, who: &'a Identity, topic: &'a str) -> BoxFuture<'a, bool>;

    /// May the user publish on this topic?
    fn can_publish<'a>(&'a self, who: &'a Identity, topic: &'a str) -> BoxFuture<'a, bool>;

    /// May this replayed event reach the user? Called for each event of a
    /// resume, after the room itself was checked.
    fn can_replay(&self, who: &Identity, frame: &SharedFrame) -> bool;

    /// Rooms where the user's presence is published (besides `user:`).
    fn presence_rooms<'a>(&'a self, user: chinwag_protocol::Id) -> BoxFuture<'a, Vec<RoomId>>;

    /// The same rooms as [`presence_rooms`](Policy::presence_rooms), picked
    /// out of what [`rooms_for`](Policy::rooms_for) just returned, so that
    /// a connect does not look them up again. `None` (the default) means
    /// they cannot be told apart and presence looks them up.
    fn presence_rooms_among(&self, _joined: &[RoomId]) -> Option<Vec<RoomId>> {
        None
    }
}

/// The foundation's policy: a user sees only their own `user:` room, and
/// topics named `public.*` are open to every authenticated user.
#[derive(Debug, Default, Clone, Copy)]
pub struct OpenPolicy;

/// Whether a topic is open to everyone.
pub fn is_public_topic(topic: &str) -> bool {
    topic.starts_with("public.")
}

impl Policy for OpenPolicy {
    fn rooms_for<'a>(&'a self, _who: &'a Identity) -> BoxFuture<'a, Result<Vec<RoomId>, ApiError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn can_subscribe<'a>(&'a self, _who: &'a Identity, topic: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move { is_public_topic(topic) })
    }

    fn can_publish<'a>(&'a self, _who: &'a Identity, topic: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move { is_public_topic(topic) })
    }

    fn can_replay(&self, _who: &Identity, _frame: &SharedFrame) -> bool {
        true
    }

    fn presence_rooms<'a>(&'a self, _user: chinwag_protocol::Id) -> BoxFuture<'a, Vec<RoomId>> {
        Box::pin(async { Vec::new() })
    }
}
