//! Bringing a connection's rooms in line with what the policy grants, at
//! connect and on `reauth`.
//!
//! Reading the grants and joining the rooms are separate steps, and a kick
//! can land between them: its leave finds the connection not yet in the
//! room, and the join that follows would keep a removed user in it. The
//! hub marks every connection of a user before it applies a membership
//! change to them ([`ConnHandle::take_membership_changed`]), so after
//! joining, a session that sees the mark reads the grants again. A sync
//! leaves only rooms it answers for (those the connection held when the
//! grants were read, and those it joined): a room a concurrent join added
//! stays.
//!
//! [`ConnHandle::take_membership_changed`]: chinwag_realtime::ConnHandle::take_membership_changed

use std::collections::HashSet;

use chinwag_protocol::RoomPosition;
use chinwag_realtime::{RoomId, RoomKind};

use super::session::Session;
use crate::ApiError;
use crate::auth::Identity;

/// How many times the grants are read again while membership changes keep
/// racing the sync; after that the next change's own join or leave is left
/// to settle it.
const MAX_REREADS: usize = 3;

/// What a sync changed.
#[derive(Debug, Default)]
pub(super) struct RoomChanges {
    /// Rooms joined, in the order of the grants, with the position live
    /// delivery starts after.
    pub(super) added: Vec<RoomPosition>,
    /// Rooms left (`room_left` with `access_revoked` went to the client).
    pub(super) removed: Vec<RoomId>,
}

/// The grants a sync starts from: what the policy granted, read after
/// noting the rooms the connection held.
pub(super) struct Grants {
    held: HashSet<RoomId>,
    /// The rooms the policy grants (the user's own room aside).
    pub(super) granted: Vec<RoomId>,
}

impl Session {
    /// Notes the connection's rooms and clears the membership mark, then
    /// reads what the policy grants `who`: a membership change from before
    /// the read is in the grants, one from after it leaves the mark.
    pub(super) async fn read_grants(&mut self, who: &Identity) -> Result<Grants, ApiError> {
        self.conn.take_membership_changed();
        let held = self.non_topic_rooms();
        let granted = self.state.policy.rooms_for(who).await?;
        Ok(Grants { held, granted })
    }

    /// Joins the rooms granted (plus the user's own room) that the
    /// connection is not in, leaves the rooms it held but is no longer
    /// granted, and repeats with fresh grants while a membership change
    /// for the user raced it. A room a concurrent change joined is that
    /// change's business (its grant may be newer than the one read here):
    /// a sync leaves only the rooms held when the grants were read and
    /// those it joined itself.
    pub(super) async fn sync_rooms(
        &mut self,
        who: &Identity,
        grants: Grants,
    ) -> Result<RoomChanges, ApiError> {
        let Grants {
            held: mut ours,
            mut granted,
        } = grants;
        let mut changes = RoomChanges::default();
        for reread in 0..=MAX_REREADS {
            if reread > 0 {
                granted = self.state.policy.rooms_for(who).await?;
            }
            self.apply_grants(who, &granted, &mut ours, &mut changes)
                .await?;
            if !self.conn.take_membership_changed() {
                break;
            }
            tracing::debug!(conn = %self.conn.id(), "membership changed during a room sync: reading the grants again");
        }
        Ok(changes)
    }

    /// One pass of [`Session::sync_rooms`].
    async fn apply_grants(
        &mut self,
        who: &Identity,
        granted: &[RoomId],
        ours: &mut HashSet<RoomId>,
        changes: &mut RoomChanges,
    ) -> Result<(), ApiError> {
        let own = RoomId::user(who.user_id);
        let wanted: HashSet<&RoomId> = granted.iter().chain([&own]).collect();
        let current = self.non_topic_rooms();
        let mut seen = HashSet::new();
        for room in [&own].into_iter().chain(granted) {
            if current.contains(room) || !seen.insert(room) {
                continue;
            }
            let pos = self.state.hub.join(&self.conn, room).await?;
            self.writer.set_floor(room, &pos);
            ours.insert(room.clone());
            changes.removed.retain(|left| left != room);
            changes.added.push(RoomPosition {
                room: room.to_string(),
                pos,
            });
        }
        let stale = current
            .iter()
            .filter(|room| ours.contains(*room) && !wanted.contains(room));
        for room in stale {
            self.state
                .hub
                .leave(&self.conn, room, "access_revoked")
                .await;
            let name = room.to_string();
            let before = changes.added.len();
            changes.added.retain(|added| added.room != name);
            if changes.added.len() == before {
                changes.removed.push(room.clone());
            }
        }
        Ok(())
    }

    /// The connection's rooms, topics aside (the policy does not grant
    /// topics; subscriptions do).
    fn non_topic_rooms(&self) -> HashSet<RoomId> {
        self.conn
            .rooms()
            .into_iter()
            .filter(|room| room.kind() != RoomKind::Topic)
            .collect()
    }
}
