//! Moderation: kick, ban, unban, time out and lift a timeout.
//!
//! Each needs its permission (`KICK_MEMBERS`, `BAN_MEMBERS`,
//! `TIMEOUT_MEMBERS`) and a target ranked strictly below the caller (the
//! owner outranks everyone; nobody moderates themselves). A ban is changed
//! or lifted only by its author or someone ranked above them. Events go to
//! `community:{id}`: `USER_KICKED` / `USER_BANNED` are emitted while the
//! target is still in the room, so they see it; then they leave voice
//! there, and every connection of theirs leaves every room of the
//! community (reason `kicked` / `banned`), all in the community's turn
//! (`CommunityTurn`). A timed-out member cannot send,
//! edit, react or pin (`TIMED_OUT`).

use chinwag_protocol::event::community::MemberRef;
use chinwag_protocol::event::moderation::UserTimedOut;
use chinwag_protocol::model::Member;
use chinwag_protocol::permissions::{BAN_MEMBERS, KICK_MEMBERS, TIMEOUT_MEMBERS};
use chinwag_protocol::{Event, Id, Timestamp};
use chinwag_realtime::RoomId;
use chinwag_store::members::Ban;

use crate::chat::Chat;
use crate::error::{ChatError, Result};
use crate::permissions::Standing;
use crate::validate;

/// The reason given to a kicked user's connections leaving the rooms.
pub const KICKED: &str = "kicked";
/// The reason given to a banned user's connections leaving the rooms.
pub const BANNED: &str = "banned";
/// The longest timeout: 28 days.
pub const MAX_TIMEOUT_MS: i64 = 28 * 24 * 3600 * 1000;

impl Chat {
    /// The caller's standing with `wanted`, checked against a target.
    async fn moderator(
        &self,
        user: Id,
        community_id: Id,
        target: Id,
        wanted: u64,
    ) -> Result<Standing> {
        let standing = self.standing(user, community_id).await?;
        standing.require(wanted)?;
        if target == user {
            return Err(ChatError::invalid("you cannot moderate yourself"));
        }
        let rank = self.rank(&standing.community, target).await?;
        standing.outranks(rank, "members")?;
        Ok(standing)
    }

    /// Every room of a community: its own and each channel's.
    async fn community_rooms(&self, community_id: Id) -> Result<Vec<RoomId>> {
        let mut rooms = vec![RoomId::community(community_id)];
        for channel in self.store.community_channels(community_id).await? {
            rooms.push(RoomId::channel(channel.id));
        }
        Ok(rooms)
    }

    async fn remove_from_rooms(&self, user: Id, rooms: &[RoomId], reason: &str) -> Result<()> {
        for room in rooms {
            self.leave_user(user, room, reason).await?;
        }
        Ok(())
    }

    /// Removes a member; emits `USER_KICKED`, then takes their connections
    /// out of the community's rooms (reason `kicked`). They may rejoin
    /// with an invite.
    pub async fn kick(&self, user: Id, community_id: Id, target: Id) -> Result<()> {
        self.moderator(user, community_id, target, KICK_MEMBERS)
            .await?;
        self.remove_member(community_id, target, "member", Event::UserKicked, KICKED)
            .await
    }

    /// In the community's turn: takes `target` out of its members (else
    /// `NOT_FOUND` naming `missing`: they left meanwhile), emits `event`
    /// to its room while they are still in it, then runs
    /// `after_removal` with `reason`. A kick and a leave.
    pub(crate) async fn remove_member(
        &self,
        community_id: Id,
        target: Id,
        missing: &'static str,
        event: fn(MemberRef) -> Event,
        reason: &str,
    ) -> Result<()> {
        let _turn = self.community_turn(community_id).await;
        if !self.store.is_member(community_id, target).await? {
            return Err(ChatError::NotFound(missing));
        }
        self.store.remove_member(community_id, target).await?;
        self.emit(
            &RoomId::community(community_id),
            event(MemberRef {
                community_id,
                user_id: target,
            }),
        )
        .await;
        self.after_removal(community_id, target, reason).await
    }

    /// Bans a user (a member or not); emits `USER_BANNED`, then takes
    /// their connections out of the community's rooms (reason `banned`).
    /// The invites they created there stop working. Banning a banned user
    /// again only updates the ban's reason.
    pub async fn ban(
        &self,
        user: Id,
        community_id: Id,
        target: Id,
        reason: Option<String>,
    ) -> Result<Ban> {
        let standing = self
            .moderator(user, community_id, target, BAN_MEMBERS)
            .await?;
        let reason = crate::validate::text("reason", reason)?;
        if self.store.user(target).await.is_err() {
            return Err(ChatError::NotFound("user"));
        }
        let _turn = self.community_turn(community_id).await;
        let author = self.store.ban_author(community_id, target).await?;
        if let Some(author) = author {
            self.may_change_ban(&standing, author).await?;
        }
        let again = author.is_some();
        let ban = self
            .store
            .ban(community_id, target, user, reason.as_deref())
            .await?;
        if again {
            // Only the ban's reason and author changed: nobody to remove.
            return Ok(ban);
        }
        let revoked = self.store.delete_invites_by(community_id, target).await?;
        if revoked > 0 {
            tracing::info!(%community_id, user = %target, revoked, "a banned user's invites revoked");
        }
        self.emit(
            &RoomId::community(community_id),
            Event::UserBanned(MemberRef {
                community_id,
                user_id: target,
            }),
        )
        .await;
        self.after_removal(community_id, target, BANNED).await?;
        Ok(ban)
    }

    /// Lifts a ban; returns whether there was one.
    pub async fn unban(&self, user: Id, community_id: Id, target: Id) -> Result<bool> {
        let standing = self.standing(user, community_id).await?;
        standing.require(BAN_MEMBERS)?;
        let Some(author) = self.store.ban_author(community_id, target).await? else {
            return Ok(false);
        };
        self.may_change_ban(&standing, author).await?;
        Ok(self.store.unban(community_id, target).await?)
    }

    /// A ban is changed (its reason rewritten, or lifted) only by its
    /// author or by someone who outranks them, so a moderator cannot undo
    /// the owner's or an admin's ban.
    async fn may_change_ban(&self, standing: &Standing, author: Id) -> Result<()> {
        if author == standing.user {
            return Ok(());
        }
        let rank = self.rank(&standing.community, author).await?;
        standing.outranks(rank, "bans placed by members")
    }

    /// A page of a community's bans by banned user id (`BAN_MEMBERS`):
    /// `limit` (1..=100) after the user `after`, or the first ones.
    pub async fn bans(
        &self,
        user: Id,
        community_id: Id,
        after: Option<Id>,
        limit: u32,
    ) -> Result<Vec<Ban>> {
        let standing = self.standing(user, community_id).await?;
        standing.require(BAN_MEMBERS)?;
        let limit = validate::limit(limit)?;
        Ok(self.store.bans(community_id, after, limit).await?)
    }

    /// Times a member out until `until` (at most 28 days ahead); emits
    /// `USER_TIMED_OUT`.
    pub async fn timeout(
        &self,
        user: Id,
        community_id: Id,
        target: Id,
        until: Timestamp,
    ) -> Result<Member> {
        self.moderator(user, community_id, target, TIMEOUT_MEMBERS)
            .await?;
        let now = chinwag_store::id::now_ms();
        if until <= now {
            return Err(ChatError::invalid("until must be in the future"));
        }
        if until - now > MAX_TIMEOUT_MS {
            return Err(ChatError::invalid("a timeout lasts at most 28 days"));
        }
        let member = self
            .store
            .set_timeout(community_id, target, Some(until))
            .await
            .map_err(|err| match err {
                chinwag_store::StoreError::NotFound => ChatError::NotFound("member"),
                other => other.into(),
            })?;
        self.emit(
            &RoomId::community(community_id),
            Event::UserTimedOut(UserTimedOut {
                community_id,
                user_id: target,
                until,
            }),
        )
        .await;
        Ok(member)
    }

    /// Lifts a member's timeout; emits `TIMEOUT_REMOVED` if there was one.
    pub async fn remove_timeout(&self, user: Id, community_id: Id, target: Id) -> Result<bool> {
        self.moderator(user, community_id, target, TIMEOUT_MEMBERS)
            .await?;
        let current = self
            .store
            .member(community_id, target)
            .await
            .map_err(|err| match err {
                chinwag_store::StoreError::NotFound => ChatError::NotFound("member"),
                other => other.into(),
            })?;
        let active = current
            .timed_out_until
            .is_some_and(|t| t > chinwag_store::id::now_ms());
        self.store.set_timeout(community_id, target, None).await?;
        if active {
            self.emit(
                &RoomId::community(community_id),
                Event::TimeoutRemoved(MemberRef {
                    community_id,
                    user_id: target,
                }),
            )
            .await;
        }
        Ok(active)
    }

    /// After a member is removed (in the community's turn): they leave its
    /// voice channel, while still in that channel's room so their own
    /// devices hear it; then every room of the community as it is now
    /// (reason `reason`); and their connections should re-authenticate.
    pub(crate) async fn after_removal(
        &self,
        community_id: Id,
        target: Id,
        reason: &str,
    ) -> Result<()> {
        self.leave_voice_if(target, |state| state.community_id == Some(community_id))
            .await;
        let rooms = self.community_rooms(community_id).await?;
        self.remove_from_rooms(target, &rooms, reason).await?;
        if let Err(err) = self
            .hub
            .require_reauth(target, crate::permissions::PERMISSIONS_CHANGED)
            .await
        {
            tracing::warn!(%err, "reauth request failed");
        }
        Ok(())
    }
}
