//! Chinwag's chat domain: one [`Chat`] service over the [`Store`] and the
//! [`Hub`]. Every mutation follows the same path: **authorize → persist →
//! emit** the event to the room that should see it, and update live room
//! membership on every node when access changes (a new member, a revoked
//! private channel, a deleted community), without waiting for clients to
//! reconnect.
//!
//! Rooms: `community:{id}` carries community and channel structure events
//! and `MEMBER_ADDED_TO_COMMUNITY`; `channel:{id}` carries a community
//! channel's messages; `dm:{id}` carries a DM's messages.
//!
//! Permissions: every check uses the member's effective permission bits
//! ([`chinwag_protocol::permissions`]; see [`permissions`]): @everyone's and
//! their roles' bits, a private channel's member list, then channel
//! overrides; the owner and `ADMINISTRATOR` holders (the Admin role) hold
//! everything. `VIEW_CHANNEL` decides who sees a channel (and joins its
//! room), `SEND_MESSAGES` who posts, `MANAGE_CHANNELS` who changes
//! structure, `MANAGE_COMMUNITY` who updates or deletes the community,
//! `CREATE_INVITE` who invites. Anything of a community is `NOT_FOUND` to a
//! non-member.
//!
//! # Layout
//! - [`chat`]: [`Chat`], event emission and live membership helpers.
//! - [`error`]: [`ChatError`] and its protocol [`ErrorCode`](chinwag_protocol::ErrorCode).
//! - [`access`]: who may see and manage what; the rooms a user belongs in.
//! - [`validate`]: input rules (lengths, usernames, mentions).
//! - [`accounts`]: register, login, refresh-token rotation, logout.
//! - [`communities`]: create, get, update, delete, list.
//! - [`invites`]: create, preview, join.
//! - [`channels`]: create, update, delete, reorder, private channel members.
//! - [`messages`]: send, edit, delete, history.
//! - [`permissions`]: effective permissions, rank, live room resync.
//! - [`roles`]: roles, assignments, channel overrides.
//! - [`moderation`]: kick, ban, unban, timeouts.
//! - [`reactions`]: reactions and pins.
//! - [`notifications`]: read receipts and notifications.
//! - [`profiles`]: profile updates.
//! - [`voice`]: voice presence state.
//! - [`dms`]: open a DM, create a group DM, list DMs.
//!
//! [`Store`]: chinwag_store::Store
//! [`Hub`]: chinwag_realtime::Hub

pub mod access;
pub mod accounts;
pub mod channels;
pub mod chat;
pub mod communities;
pub mod dms;
pub mod error;
pub mod invites;
pub mod messages;
pub mod moderation;
pub mod notifications;
pub mod permissions;
pub mod profiles;
pub mod reactions;
pub mod roles;
pub mod validate;
pub mod voice;

pub use access::Access;
pub use accounts::Session;
pub use channels::{ChannelChange, ChannelSpec};
pub use chat::Chat;
pub use communities::{CommunityChange, CommunitySpec};
pub use error::{ChatError, Result};
pub use invites::{InvitePreview, InviteSpec, Joined};
pub use messages::{HistoryQuery, MessageSpec};
