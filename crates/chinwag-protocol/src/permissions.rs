//! Permission bits: what a role (or a channel override) grants.
//!
//! A member's permissions in a community are the union of the bits of
//! @everyone (the role whose id is the community id) and of every role they
//! hold; the owner holds every bit. [`ADMINISTRATOR`] implies every bit and
//! ignores channel overrides. In a channel, overrides then apply in order:
//! the @everyone override (deny, then allow), the union of the held roles'
//! overrides (deny, then allow), then the member's own override (deny, then
//! allow). A private channel withholds [`VIEW_CHANNEL`] from everyone not on
//! its member list, unless an override grants it.

/// See a channel: join its room, read its history, receive its events.
pub const VIEW_CHANNEL: u64 = 1 << 0;
/// Post messages (and thread replies).
pub const SEND_MESSAGES: u64 = 1 << 1;
/// Delete other members' messages.
pub const MANAGE_MESSAGES: u64 = 1 << 2;
/// Create, update, reorder and delete channels; manage private channel
/// member lists and channel overrides.
pub const MANAGE_CHANNELS: u64 = 1 << 3;
/// Update and delete the community.
pub const MANAGE_COMMUNITY: u64 = 1 << 4;
/// Create invites.
pub const CREATE_INVITE: u64 = 1 << 5;
/// Kick members ranked below the caller.
pub const KICK_MEMBERS: u64 = 1 << 6;
/// Ban and unban members ranked below the caller.
pub const BAN_MEMBERS: u64 = 1 << 7;
/// Time out members ranked below the caller, and lift timeouts.
pub const TIMEOUT_MEMBERS: u64 = 1 << 8;
/// Create, update, delete, assign and unassign roles below the caller's
/// highest role.
pub const MANAGE_ROLES: u64 = 1 << 9;
/// Add reactions.
pub const ADD_REACTIONS: u64 = 1 << 10;
/// Pin and unpin messages.
pub const PIN_MESSAGES: u64 = 1 << 11;
/// Every permission, everywhere in the community; overrides do not apply.
pub const ADMINISTRATOR: u64 = 1 << 12;

/// Every defined bit.
pub const ALL: u64 = (1 << 13) - 1;

/// What @everyone holds in a new community: view, send and react.
pub const EVERYONE_DEFAULT: u64 = VIEW_CHANNEL | SEND_MESSAGES | ADD_REACTIONS;

/// Whether `held` includes every bit of `wanted` (or [`ADMINISTRATOR`]).
pub const fn has(held: u64, wanted: u64) -> bool {
    held & ADMINISTRATOR != 0 || held & wanted == wanted
}

/// Every bit name with its value, for documentation and debugging.
pub const NAMES: &[(&str, u64)] = &[
    ("VIEW_CHANNEL", VIEW_CHANNEL),
    ("SEND_MESSAGES", SEND_MESSAGES),
    ("MANAGE_MESSAGES", MANAGE_MESSAGES),
    ("MANAGE_CHANNELS", MANAGE_CHANNELS),
    ("MANAGE_COMMUNITY", MANAGE_COMMUNITY),
    ("CREATE_INVITE", CREATE_INVITE),
    ("KICK_MEMBERS", KICK_MEMBERS),
    ("BAN_MEMBERS", BAN_MEMBERS),
    ("TIMEOUT_MEMBERS", TIMEOUT_MEMBERS),
    ("MANAGE_ROLES", MANAGE_ROLES),
    ("ADD_REACTIONS", ADD_REACTIONS),
    ("PIN_MESSAGES", PIN_MESSAGES),
    ("ADMINISTRATOR", ADMINISTRATOR),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_distinct_and_cover_all() {
        let mut seen = 0u64;
        for (_, bit) in NAMES {
            assert_eq!(seen & bit, 0);
            seen |= bit;
        }
        assert_eq!(seen, ALL);
        assert!(has(ADMINISTRATOR, MANAGE_ROLES));
        assert!(!has(VIEW_CHANNEL, VIEW_CHANNEL | SEND_MESSAGES));
    }
}
