//! The one-query channel check ([`Chat::seen_channel`]) against the
//! multi-query path it replaced ([`Chat::standing`] plus
//! [`Chat::channel_permissions`], still behind [`Chat::my_permissions`]),
//! over a matrix of members and channels on every backend.

use chinwag_protocol::Id;
use chinwag_protocol::model::ChannelKind;
use chinwag_protocol::permissions::{
    ADD_REACTIONS, MANAGE_MESSAGES, PIN_MESSAGES, SEND_MESSAGES, VIEW_CHANNEL,
};
use chinwag_store::testing::{community, each_backend, text_channel, user};
use chinwag_store::{NewChannel, NewRole, OverrideTarget, PermissionOverride};

use crate::chat::Chat;
use crate::error::ChatError;

/// What the old path says: the bits, or `None` when the channel is hidden
/// (`NOT_FOUND`).
async fn old_bits(chat: &Chat, user: Id, community_id: Id, channel_id: Id) -> Option<u64> {
    match chat
        .my_permissions(user, community_id, Some(channel_id))
        .await
    {
        Ok(bits) => Some(bits),
        Err(ChatError::NotFound(_)) => None,
        Err(err) => panic!("old path failed: {err}"),
    }
}

/// What the new path says, with the timeout it read.
async fn new_bits(chat: &Chat, user: Id, channel_id: Id) -> Option<(u64, Option<i64>)> {
    match chat.seen_channel(user, channel_id).await {
        Ok(seen) => Some((seen.permissions, seen.timed_out_until)),
        Err(ChatError::NotFound("channel")) => None,
        Err(err) => panic!("new path failed: {err}"),
    }
}

#[tokio::test]
async fn one_query_check_matches_the_multi_query_path() {
    each_backend(|store| async move {
        let chat = Chat::on_memory_hub(store.clone());
        let owner = user(&store, "owner").await.id;
        let created = community(&store, owner).await;
        let cid = created.community.id;
        let everyone = created.everyone_role.id;
        // @everyone: view, send, react.
        store
            .update_role(
                everyone,
                chinwag_store::RoleUpdate {
                    permissions: Some(VIEW_CHANNEL | SEND_MESSAGES | ADD_REACTIONS),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mods = store
            .create_role(NewRole {
                community_id: cid,
                name: "mods".into(),
                permissions: MANAGE_MESSAGES,
                position: 5,
                color: None,
            })
            .await
            .unwrap();
        let pinners = store
            .create_role(NewRole {
                community_id: cid,
                name: "pinners".into(),
                permissions: PIN_MESSAGES,
                position: 3,
                color: None,
            })
            .await
            .unwrap();

        let admin = user(&store, "admin").await.id;
        let plain = user(&store, "plain").await.id;
        let moderator = user(&store, "moderator").await.id;
        let both = user(&store, "both").await.id;
        let allowed = user(&store, "allowed").await.id;
        let denied = user(&store, "denied").await.id;
        let listed = user(&store, "listed").await.id;
        let timed_out = user(&store, "timed_out").await.id;
        let outsider = user(&store, "outsider").await.id;
        for u in [
            admin, plain, moderator, both, allowed, denied, listed, timed_out,
        ] {
            store.add_member(cid, u).await.unwrap();
        }
        store
            .assign_role(cid, admin, created.admin_role.id)
            .await
            .unwrap();
        store.assign_role(cid, moderator, mods.id).await.unwrap();
        store.assign_role(cid, both, mods.id).await.unwrap();
        store.assign_role(cid, both, pinners.id).await.unwrap();
        let until = chinwag_store::id::now_ms() + 60_000;
        store
            .set_timeout(cid, timed_out, Some(until))
            .await
            .unwrap();

        let public = text_channel(&store, cid, "public").await;
        // @everyone may not send; mods may again; one user is allowed to
        // send, one is denied viewing.
        let gated = text_channel(&store, cid, "gated").await;
        let set = |channel_id, target, allow, deny| {
            let store = store.clone();
            async move {
                store
                    .set_override(PermissionOverride {
                        channel_id,
                        target,
                        allow,
                        deny,
                    })
                    .await
                    .unwrap();
            }
        };
        set(gated.id, OverrideTarget::Role(everyone), 0, SEND_MESSAGES).await;
        set(
            gated.id,
            OverrideTarget::Role(mods.id),
            SEND_MESSAGES,
            ADD_REACTIONS,
        )
        .await;
        set(
            gated.id,
            OverrideTarget::Role(pinners.id),
            ADD_REACTIONS,
            PIN_MESSAGES,
        )
        .await;
        set(gated.id, OverrideTarget::User(allowed), SEND_MESSAGES, 0).await;
        set(gated.id, OverrideTarget::User(denied), 0, VIEW_CHANNEL).await;
        set(gated.id, OverrideTarget::User(admin), 0, VIEW_CHANNEL).await;
        // Hidden from @everyone, shown to mods.
        let staff = text_channel(&store, cid, "staff").await;
        set(staff.id, OverrideTarget::Role(everyone), 0, VIEW_CHANNEL).await;
        set(staff.id, OverrideTarget::Role(mods.id), VIEW_CHANNEL, 0).await;
        // Private: its list, plus a user override that shows it anyway.
        let private = store
            .create_channel(NewChannel {
                community_id: cid,
                kind: ChannelKind::Text,
                name: "private".into(),
                topic: None,
                private: true,
            })
            .await
            .unwrap();
        store
            .add_private_channel_member(private.id, listed)
            .await
            .unwrap();
        set(private.id, OverrideTarget::User(allowed), VIEW_CHANNEL, 0).await;

        let users = [
            owner, admin, plain, moderator, both, allowed, denied, listed, timed_out, outsider,
        ];
        for channel in [&public, &gated, &staff, &private] {
            for &u in &users {
                let old = old_bits(&chat, u, cid, channel.id).await;
                let new = new_bits(&chat, u, channel.id).await;
                assert_eq!(
                    new.map(|(bits, _)| bits),
                    old,
                    "user {u} in channel {}",
                    channel.name
                );
                assert_eq!(
                    chat.sees_channel(u, channel.id).await.unwrap(),
                    old.is_some()
                );
                if let Some((_, timeout)) = new {
                    let expected = store.member(cid, u).await.unwrap().timed_out_until;
                    assert_eq!(timeout, expected);
                }
            }
        }

        // Spot checks of the answers themselves.
        let bits = |u, c| {
            let chat = chat.clone();
            async move { new_bits(&chat, u, c).await.map(|(b, _)| b) }
        };
        assert_eq!(
            bits(owner, gated.id).await,
            Some(chinwag_protocol::permissions::ALL)
        );
        assert_eq!(
            bits(admin, gated.id).await,
            Some(chinwag_protocol::permissions::ALL)
        );
        assert!(bits(plain, public.id).await.unwrap() & SEND_MESSAGES != 0);
        assert!(bits(plain, gated.id).await.unwrap() & SEND_MESSAGES == 0);
        assert!(bits(moderator, gated.id).await.unwrap() & SEND_MESSAGES != 0);
        assert!(bits(allowed, gated.id).await.unwrap() & SEND_MESSAGES != 0);
        assert_eq!(bits(denied, gated.id).await, None);
        assert_eq!(bits(plain, staff.id).await, None);
        assert!(bits(moderator, staff.id).await.is_some());
        assert_eq!(bits(plain, private.id).await, None);
        assert!(bits(listed, private.id).await.is_some());
        assert!(bits(allowed, private.id).await.is_some());
        assert_eq!(bits(outsider, public.id).await, None);
        assert_eq!(bits(plain, Id(12345)).await, None);

        // A timed-out member still sees the channel, but may not write.
        let seen = chat.seen_channel(timed_out, public.id).await.unwrap();
        assert_eq!(seen.timed_out_until, Some(until));
        assert!(matches!(
            seen.require_active(SEND_MESSAGES),
            Err(ChatError::TimedOut(t)) if t == until
        ));
        let seen = chat.seen_channel(plain, gated.id).await.unwrap();
        assert!(matches!(
            seen.require_active(SEND_MESSAGES),
            Err(ChatError::Forbidden(_))
        ));

        // DMs: participants see them with every bit; others do not.
        let (dm, _) = store.open_dm(plain, outsider).await.unwrap();
        let seen = chat.seen_channel(plain, dm.id).await.unwrap();
        assert_eq!(seen.permissions, u64::MAX);
        assert_eq!(seen.channel.recipient_ids, dm.recipient_ids);
        assert_eq!(seen.caller.map(|c| c.id), Some(plain));
        assert_eq!(new_bits(&chat, owner, dm.id).await, None);
        assert!(!chat.sees_channel(owner, dm.id).await.unwrap());
    })
    .await;
}
