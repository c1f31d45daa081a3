//! Chinwag's persistence layer: one [`Store`] over SQLite (the embedded
//! default) or PostgreSQL, with migrations run on open.
//!
//! [`Store::open`] picks the backend from its argument: `postgres://…` is
//! PostgreSQL; `sqlite::memory:`, `sqlite://path` or a plain path is SQLite
//! (WAL mode, foreign keys on). The SQL is shared between the two dialects;
//! each method is written once and compiled against both concrete pools.
//! Every mutation of a versioned resource bumps its `version` by one in the
//! same statement or transaction. Ids come from a snowflake generator
//! ([`IdGenerator`]), so message ids grow with time and double as
//! pagination cursors.
//!
//! # Layout
//! - [`store`]: [`Store`], opening, backend dispatch.
//! - [`error`]: the [`StoreError`] enum.
//! - [`access`]: a caller's standing in one channel, in one statement.
//! - [`id`]: the [`IdGenerator`] for snowflake ids.
//! - [`crypto`]: argon2 password hashing, refresh-token hashing.
//! - [`accounts`]: users, profiles, refresh tokens.
//! - [`communities`]: communities and their permission version.
//! - [`members`]: members, timeouts, bans.
//! - [`roles`]: roles, assignments, channel permission overrides.
//! - [`channels`]: community channels, reordering, private channel members.
//! - [`dms`]: one-to-one and group DMs.
//! - [`invites`]: invites and their atomic use.
//! - [`messages`]: messages, threads, history pagination.
//! - [`reactions`]: idempotent reactions and their summaries.
//! - [`pins`]: pinning and the pinned list.
//! - [`read_states`]: read positions and unread counters.
//! - [`notifications`]: notifications and marking them read.
//! - `testing` (feature `test-support`): run a test on every backend.

pub mod access;
pub mod accounts;
pub mod channels;
pub mod communities;
pub mod crypto;
pub mod dms;
pub mod error;
pub mod id;
pub mod invites;
pub mod members;
pub mod messages;
pub mod notifications;
pub mod pins;
pub mod reactions;
pub mod read_states;
pub mod roles;
mod sqlite;
pub mod store;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod voice;

pub use access::{AccessVersions, ChannelAccess, ChannelStanding};
pub use accounts::{Credentials, NewUser, ProfileUpdate, RefreshToken};
pub use channels::{ChannelUpdate, DeletedChannel, NewChannel};
pub use communities::{CommunityUpdate, CreatedCommunity, NewCommunity};
pub use crypto::{generate_token, hash_password, hash_token, verify_password};
pub use error::{Result, StoreError};
pub use id::IdGenerator;
pub use invites::NewInvite;
pub use members::Ban;
pub use messages::{CreatedMessage, Cursor, DeletedMessage, NewMessage, ThreadParentUpdate};
pub use notifications::NewNotification;
pub use pins::PinUpdate;
pub use reactions::ReactionUpdate;
pub use roles::{NewRole, OverrideTarget, PermissionOverride, RoleUpdate};
pub use store::{BackendKind, Store, StoreOptions};
