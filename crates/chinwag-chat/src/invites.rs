//! Invites: create (`CREATE_INVITE`), preview (anyone with the code),
//! join, list (`MANAGE_COMMUNITY`) and revoke (the creator, or
//! `MANAGE_COMMUNITY`).

use chinwag_protocol::event::community::MemberRef;
use chinwag_protocol::model::{Community, Invite, Member};
use chinwag_protocol::{Event, Id, Timestamp};
use chinwag_realtime::RoomId;
use chinwag_store::NewInvite;
use serde::{Deserialize, Serialize};

use crate::chat::Chat;
use crate::error::{ChatError, OrNotFound as _, Result};

/// The longest an invite may live: 30 days.
pub const MAX_INVITE_AGE_SECS: u64 = 30 * 24 * 3600;
/// The most uses an invite may allow.
pub const MAX_INVITE_USES: i64 = 100_000;
/// The most live invites (unexpired, with uses left) a community may
/// hold; one more is `CONFLICT` (the store counts under the community's
/// lock).
pub use chinwag_store::invites::MAX_LIVE_INVITES;

/// An invite to create.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InviteSpec {
    /// Seconds until it expires (`None`: never); 1..=30 days.
    #[serde(default)]
    pub max_age_secs: Option<u64>,
    /// How many joins it allows (`None`: unlimited); 1..=100000.
    #[serde(default)]
    pub max_uses: Option<i64>,
}

/// What anyone holding an invite code may see before joining.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitePreview {
    /// The code.
    pub code: String,
    /// Community id.
    pub community_id: Id,
    /// Community name.
    pub community_name: String,
    /// Community description.
    pub description: Option<String>,
    /// Community icon.
    pub icon_url: Option<String>,
    /// How many members it has.
    pub member_count: usize,
    /// When the invite expires.
    pub expires_at: Option<Timestamp>,
}

/// What joining through an invite produced.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The community joined.
    pub community: Community,
    /// The new membership.
    pub member: Member,
}

impl Chat {
    /// Creates an invite (`CREATE_INVITE`); at most [`MAX_LIVE_INVITES`]
    /// live ones per community.
    pub async fn create_invite(
        &self,
        user: Id,
        community_id: Id,
        spec: InviteSpec,
    ) -> Result<Invite> {
        self.require(
            user,
            community_id,
            chinwag_protocol::permissions::CREATE_INVITE,
        )
        .await?;
        if spec
            .max_age_secs
            .is_some_and(|s| s == 0 || s > MAX_INVITE_AGE_SECS)
        {
            return Err(ChatError::invalid("max_age_secs must be 1..=2592000"));
        }
        if spec
            .max_uses
            .is_some_and(|u| !(1..=MAX_INVITE_USES).contains(&u))
        {
            return Err(ChatError::invalid("max_uses must be 1..=100000"));
        }
        let now = chinwag_store::id::now_ms();
        let expires_at = spec.max_age_secs.map(|s| now + (s as i64) * 1000);
        Ok(self
            .store
            .create_invite(NewInvite {
                community_id,
                creator_id: user,
                expires_at,
                max_uses: spec.max_uses,
            })
            .await?)
    }

    /// A community's invites, newest first, expired and used-up ones
    /// included (`MANAGE_COMMUNITY`).
    pub async fn invites(&self, user: Id, community_id: Id) -> Result<Vec<Invite>> {
        self.require(
            user,
            community_id,
            chinwag_protocol::permissions::MANAGE_COMMUNITY,
        )
        .await?;
        Ok(self.store.community_invites(community_id).await?)
    }

    /// Revokes an invite: its creator may, and so may members holding
    /// `MANAGE_COMMUNITY`. To anyone else outside the community it does
    /// not exist. Joins already made stay.
    pub async fn revoke_invite(&self, user: Id, code: &str) -> Result<()> {
        let invite = self.store.invite(code).await.or_not_found("invite")?;
        let standing = self
            .standing(user, invite.community_id)
            .await
            .map_err(|err| match err {
                ChatError::NotFound(_) => ChatError::NotFound("invite"),
                other => other,
            })?;
        if invite.creator_id != user {
            standing.require(chinwag_protocol::permissions::MANAGE_COMMUNITY)?;
        }
        if !self.store.delete_invite(code).await? {
            return Err(ChatError::NotFound("invite"));
        }
        Ok(())
    }

    /// The public view of a live invite.
    pub async fn preview_invite(&self, code: &str) -> Result<InvitePreview> {
        let invite = self.store.invite(code).await.or_not_found("invite")?;
        let now = chinwag_store::id::now_ms();
        if invite.expires_at.is_some_and(|e| e <= now) {
            return Err(ChatError::InviteExpired);
        }
        if invite.max_uses.is_some_and(|m| invite.uses >= m) {
            return Err(ChatError::InviteExhausted);
        }
        let community = self
            .store
            .community(invite.community_id)
            .await
            .or_not_found("invite")?;
        let member_count = self.store.member_ids(community.id).await?.len();
        Ok(InvitePreview {
            code: invite.code,
            community_id: community.id,
            community_name: community.name,
            description: community.description,
            icon_url: community.icon_url,
            member_count,
            expires_at: invite.expires_at,
        })
    }

    /// Joins the caller to the invite's community: consumes a use, adds
    /// the member, joins their connections to the community's rooms, and
    /// emits `MEMBER_ADDED_TO_COMMUNITY`.
    pub async fn join_invite(&self, user: Id, code: &str) -> Result<Joined> {
        let now = chinwag_store::id::now_ms();
        let member = self
            .store
            .accept_invite(code, user, now)
            .await
            .map_err(|err| match err {
                chinwag_store::StoreError::Conflict(_) => {
                    ChatError::Conflict("already a member of this community".into())
                }
                chinwag_store::StoreError::NotFound => ChatError::NotFound("invite"),
                other => other.into(),
            })?;
        let community_id = member.community_id;
        // In the turn, the joiner is still a member, or a ban, kick or
        // deletion that came in between has already run (then this fails
        // here, and no room is joined).
        let _turn = self.community_turn(community_id).await;
        let access = self.access(user, community_id).await?;
        let room = RoomId::community(community_id);
        let mut rooms = vec![room.clone()];
        for channel in self.visible_channels(user, &access).await? {
            rooms.push(RoomId::channel(channel.id));
        }
        if !self.join_member(user, community_id, &rooms).await? {
            return Err(ChatError::NotFound("community"));
        }
        self.emit(
            &room,
            Event::MemberAddedToCommunity(MemberRef {
                community_id,
                user_id: user,
            }),
        )
        .await;
        Ok(Joined {
            community: access.community,
            member,
        })
    }
}

#[cfg(test)]
mod tests {
    use chinwag_store::NewInvite;
    use chinwag_store::testing::{community, each_backend, user};

    use super::MAX_LIVE_INVITES;
    use crate::chat::Chat;
    use crate::error::ChatError;

    #[tokio::test]
    async fn a_community_holds_at_most_max_live_invites() {
        each_backend(|store| async move {
            let chat = Chat::on_memory_hub(store.clone());
            let owner = user(&store, "owner").await.id;
            let cid = community(&store, owner).await.community.id;
            let new = |expires_at| NewInvite {
                community_id: cid,
                creator_id: owner,
                expires_at,
                max_uses: None,
            };
            for _ in 1..MAX_LIVE_INVITES {
                store.create_invite(new(None)).await.unwrap();
            }
            // Dead invites do not count.
            store.create_invite(new(Some(1))).await.unwrap();
            let spec = super::InviteSpec::default();
            chat.create_invite(owner, cid, spec.clone()).await.unwrap();
            let refused = chat.create_invite(owner, cid, spec.clone()).await;
            assert!(
                matches!(refused, Err(ChatError::Conflict(_))),
                "{refused:?}"
            );
            // Revoking one makes room again.
            let code = store.community_invites(cid).await.unwrap()[0].code.clone();
            chat.revoke_invite(owner, &code).await.unwrap();
            chat.create_invite(owner, cid, spec).await.unwrap();
        })
        .await;
    }
}
