//! The resources that event payloads and REST responses carry.
//!
//! Every state-bearing resource has a `version` that grows by one on each
//! change; a client applies an update only if its version is newer than the
//! one it holds.
//!
//! # Layout
//! - [`user`]: users, profiles and presence.
//! - [`community`]: communities, members, roles and invites.
//! - [`channel`]: channels (text, voice, DM, group DM) and read state.
//! - [`message`]: messages, reactions and notifications.
//! - [`voice`]: voice presence state.

pub mod channel;
pub mod community;
pub mod message;
pub mod user;
pub mod voice;

pub use channel::{Channel, ChannelKind, ReadState};
pub use community::{Community, Invite, Member, Role};
pub use message::{Message, Notification, NotificationKind, ReactionSummary};
pub use user::{Presence, PresenceStatus, User, UserRole};
pub use voice::VoiceState;
