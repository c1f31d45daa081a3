//! Events: what the stream carries, one file per family, plus the metadata
//! that says how each event is delivered and how a client caches it.
//!
//! On the wire an event is `{"type": "NEW_MESSAGE", "data": {...}}` inside an
//! `event` frame (see [`crate::server::EventFrame`]).
//!
//! # Layout
//! - [`message`], [`thread`], [`reaction`]: messages and what hangs off them.
//! - [`community`], [`channel`], [`role`], [`moderation`]: structure (invalidate).
//! - [`presence`], [`typing`], [`voice`]: who is where.
//! - [`notification`], [`read_state`], [`profile`]: per-user state.
//! - [`topic`]: messages on opt-in topics and the cluster bus.

pub mod channel;
pub mod community;
pub mod message;
pub mod moderation;
pub mod notification;
pub mod presence;
pub mod profile;
pub mod reaction;
pub mod read_state;
pub mod role;
pub mod thread;
pub mod topic;
pub mod typing;
pub mod voice;

use serde::{Deserialize, Serialize};

/// Whether an event is kept in its room's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventClass {
    /// Gets an offset, is kept in history and replayed on resume.
    Durable,
    /// No offset, never replayed, dropped first when a client is slow.
    Ephemeral,
}

/// How a client applies an event to its cache (seed `002_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CachePattern {
    /// The payload is the full resource: write it into the cache.
    Direct,
    /// The payload carries ids only: mark the cache stale and refetch.
    Invalidate,
    /// Update the cache if it is warm, otherwise invalidate.
    Hybrid,
    /// Transient UI state, never cached.
    Ephemeral,
}

/// Which connection roles understand an event. A room broadcast accepts only
/// [`Audience::Shared`] events, except to a `user:` room, whose connections
/// all share one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Users and bots alike.
    Shared,
    /// Human users only.
    UsersOnly,
}

macro_rules! events {
    ($( $(#[$doc:meta])* $variant:ident($payload:ty) = $name:literal, $class:ident, $pattern:ident, $aud:ident; )*) => {
        /// Every event the stream carries.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", content = "data")]
        pub enum Event {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($payload), )*
        }

        /// The type of an [`Event`], without its payload.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $( $(#[$doc])* $variant, )*
        }

        impl Event {
            /// This event's type.
            pub fn kind(&self) -> EventKind {
                match self { $( Event::$variant(_) => EventKind::$variant, )* }
            }
        }

        impl EventKind {
            /// Every event type, in inventory order.
            pub const ALL: &'static [EventKind] = &[ $( EventKind::$variant, )* ];

            /// The wire name, e.g. `NEW_MESSAGE`.
            pub fn name(self) -> &'static str {
                match self { $( EventKind::$variant => $name, )* }
            }

            /// Durable or ephemeral.
            pub fn class(self) -> EventClass {
                match self { $( EventKind::$variant => EventClass::$class, )* }
            }

            /// How clients cache it.
            pub fn pattern(self) -> CachePattern {
                match self { $( EventKind::$variant => CachePattern::$pattern, )* }
            }

            /// Which roles understand it.
            pub fn audience(self) -> Audience {
                match self { $( EventKind::$variant => Audience::$aud, )* }
            }

            /// Looks a type up by its wire name.
            pub fn from_name(name: &str) -> Option<EventKind> {
                match name { $( $name => Some(EventKind::$variant), )* _ => None }
            }
        }
    };
}

// Payloads that carry a whole message are boxed: they are several times
// larger than the rest, and every frame in a room's history would
// otherwise pay for them.
events! {
    /// A message was posted in a community channel.
    NewMessage(Box<message::NewMessage>) = "NEW_MESSAGE", Durable, Direct, Shared;
    /// A message was posted in a DM.
    NewDm(Box<message::NewDm>) = "NEW_DM", Durable, Direct, Shared;
    /// A message was edited.
    UpdateMessage(Box<message::UpdateMessage>) = "UPDATE_MESSAGE", Durable, Direct, Shared;
    /// A message was deleted.
    DeleteMessage(message::DeleteMessage) = "DELETE_MESSAGE", Durable, Direct, Shared;
    /// A reaction was added.
    ReactionAdded(reaction::ReactionChanged) = "REACTION_ADDED", Durable, Direct, Shared;
    /// A reaction was removed.
    ReactionRemoved(reaction::ReactionChanged) = "REACTION_REMOVED", Durable, Direct, Shared;
    /// A message was pinned.
    MessagePinned(reaction::PinChanged) = "MESSAGE_PINNED", Durable, Direct, Shared;
    /// A message was unpinned.
    MessageUnpinned(reaction::PinChanged) = "MESSAGE_UNPINNED", Durable, Direct, Shared;
    /// A parent message's thread reply count changed.
    ThreadReplyCountUpdated(thread::ThreadReplyCountUpdated) = "THREAD_REPLY_COUNT_UPDATED", Durable, Direct, Shared;
    /// The user's read position in a channel changed (own devices only).
    ReadReceiptUpdated(read_state::ReadReceiptUpdated) = "READ_RECEIPT_UPDATED", Durable, Direct, UsersOnly;
    /// A reply was posted in a thread.
    NewThreadReply(Box<thread::ThreadReply>) = "NEW_THREAD_REPLY", Durable, Direct, Shared;
    /// A thread reply was edited.
    UpdateThreadReply(Box<thread::ThreadReply>) = "UPDATE_THREAD_REPLY", Durable, Direct, Shared;
    /// A thread reply was deleted.
    DeleteThreadReply(thread::DeleteThreadReply) = "DELETE_THREAD_REPLY", Durable, Direct, Shared;
    /// A user came online, or changed status while online.
    UserOnline(presence::PresenceChanged) = "USER_ONLINE", Durable, Direct, Shared;
    /// A user's last connection went away.
    UserOffline(presence::PresenceChanged) = "USER_OFFLINE", Durable, Direct, Shared;
    /// A notification was created for the user.
    NewNotification(notification::NewNotification) = "NEW_NOTIFICATION", Durable, Direct, UsersOnly;
    /// Notifications were marked read.
    NotificationRead(notification::NotificationRead) = "NOTIFICATION_READ", Durable, Direct, UsersOnly;
    /// A user joined a voice channel.
    VoiceChannelUserJoined(voice::VoiceStateChanged) = "VOICE_CHANNEL_USER_JOINED", Durable, Hybrid, Shared;
    /// A user left a voice channel.
    VoiceChannelUserLeft(voice::VoiceStateChanged) = "VOICE_CHANNEL_USER_LEFT", Durable, Hybrid, Shared;
    /// A user's mute or deafen state changed in a voice channel.
    VoiceChannelUserUpdated(voice::VoiceStateChanged) = "VOICE_CHANNEL_USER_UPDATED", Durable, Hybrid, Shared;
    /// A user joined a DM call.
    DmVoiceUserJoined(voice::VoiceStateChanged) = "DM_VOICE_USER_JOINED", Durable, Hybrid, Shared;
    /// A user left a DM call.
    DmVoiceUserLeft(voice::VoiceStateChanged) = "DM_VOICE_USER_LEFT", Durable, Hybrid, Shared;
    /// A user's mute or deafen state changed in a DM call.
    DmVoiceUserUpdated(voice::VoiceStateChanged) = "DM_VOICE_USER_UPDATED", Durable, Hybrid, Shared;
    /// A call started in a DM.
    DmVoiceCallStarted(voice::DmVoiceCallStarted) = "DM_VOICE_CALL_STARTED", Durable, Invalidate, Shared;
    /// A participant left a group DM.
    DmRecipientLeft(channel::DmRecipientLeft) = "DM_RECIPIENT_LEFT", Durable, Invalidate, Shared;
    /// A channel was created.
    ChannelCreated(channel::ChannelRef) = "CHANNEL_CREATED", Durable, Invalidate, Shared;
    /// A channel was updated.
    ChannelUpdated(channel::ChannelRef) = "CHANNEL_UPDATED", Durable, Invalidate, Shared;
    /// A channel was deleted.
    ChannelDeleted(channel::ChannelRef) = "CHANNEL_DELETED", Durable, Invalidate, Shared;
    /// A community's channels were reordered.
    ChannelsReordered(channel::ChannelsReordered) = "CHANNELS_REORDERED", Durable, Invalidate, Shared;
    /// A community was updated.
    CommunityUpdated(community::CommunityRef) = "COMMUNITY_UPDATED", Durable, Invalidate, Shared;
    /// A community was deleted.
    CommunityDeleted(community::CommunityRef) = "COMMUNITY_DELETED", Durable, Invalidate, Shared;
    /// A user joined a community.
    MemberAddedToCommunity(community::MemberRef) = "MEMBER_ADDED_TO_COMMUNITY", Durable, Invalidate, Shared;
    /// A member left a community of their own accord.
    MemberLeftCommunity(community::MemberRef) = "MEMBER_LEFT_COMMUNITY", Durable, Invalidate, Shared;
    /// A role was created.
    RoleCreated(role::RoleRef) = "ROLE_CREATED", Durable, Invalidate, Shared;
    /// A role was updated.
    RoleUpdated(role::RoleRef) = "ROLE_UPDATED", Durable, Invalidate, Shared;
    /// A role was deleted.
    RoleDeleted(role::RoleRef) = "ROLE_DELETED", Durable, Invalidate, Shared;
    /// A role was given to a member.
    RoleAssigned(role::RoleAssignment) = "ROLE_ASSIGNED", Durable, Invalidate, Shared;
    /// A role was taken from a member.
    RoleUnassigned(role::RoleAssignment) = "ROLE_UNASSIGNED", Durable, Invalidate, Shared;
    /// A member was banned.
    UserBanned(community::MemberRef) = "USER_BANNED", Durable, Invalidate, Shared;
    /// A member was kicked.
    UserKicked(community::MemberRef) = "USER_KICKED", Durable, Invalidate, Shared;
    /// A member was timed out.
    UserTimedOut(moderation::UserTimedOut) = "USER_TIMED_OUT", Durable, Invalidate, Shared;
    /// A member's timeout was lifted.
    TimeoutRemoved(community::MemberRef) = "TIMEOUT_REMOVED", Durable, Invalidate, Shared;
    /// A user's profile changed.
    UserProfileUpdated(profile::UserProfileUpdated) = "USER_PROFILE_UPDATED", Durable, Invalidate, Shared;
    /// A user is typing (expires after 8 s).
    UserTyping(typing::UserTyping) = "USER_TYPING", Ephemeral, Ephemeral, Shared;
    /// A message on an opt-in topic or the cluster bus.
    TopicMessage(topic::TopicMessage) = "TOPIC_MESSAGE", Durable, Direct, Shared;
}

impl Event {
    /// Durable or ephemeral, from the event's type.
    pub fn class(&self) -> EventClass {
        self.kind().class()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in EventKind::ALL {
            assert!(seen.insert(kind.name()), "duplicate {}", kind.name());
            assert_eq!(EventKind::from_name(kind.name()), Some(*kind));
        }
        assert_eq!(EventKind::ALL.len(), 45);
    }

    #[test]
    fn only_typing_is_ephemeral() {
        let ephemeral: Vec<_> = EventKind::ALL
            .iter()
            .filter(|k| k.class() == EventClass::Ephemeral)
            .collect();
        assert_eq!(ephemeral, [&EventKind::UserTyping]);
    }
}
