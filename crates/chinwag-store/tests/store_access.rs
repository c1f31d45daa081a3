//! `Store::channel_access`, the one-statement read of a caller's standing
//! in a channel, and the message writes that skip reading back, on every
//! backend.

use chinwag_protocol::Id;
use chinwag_protocol::model::ChannelKind;
use chinwag_store::testing::{community, each_backend, post, text_channel, user};
use chinwag_store::{
    ChannelUpdate, Cursor, NewChannel, NewMessage, NewRole, OverrideTarget, PermissionOverride,
    ProfileUpdate, Store, StoreError,
};

#[tokio::test]
async fn channel_access_reads_every_fact_a_check_needs() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let member = user(&store, "member").await;
        let other = user(&store, "other").await;
        let outsider = user(&store, "outsider").await;
        let created = community(&store, owner.id).await;
        let cid = created.community.id;
        store.add_member(cid, member.id).await.unwrap();
        store.add_member(cid, other.id).await.unwrap();
        let role = store
            .create_role(NewRole {
                community_id: cid,
                name: "r".into(),
                permissions: 0b110,
                position: 2,
                color: None,
            })
            .await
            .unwrap();
        store.assign_role(cid, member.id, role.id).await.unwrap();
        store
            .set_timeout(cid, member.id, Some(123_456))
            .await
            .unwrap();
        let private = store
            .create_channel(NewChannel {
                community_id: cid,
                kind: ChannelKind::Text,
                name: "p".into(),
                topic: Some("t".into()),
                private: true,
            })
            .await
            .unwrap();
        store
            .add_private_channel_member(private.id, member.id)
            .await
            .unwrap();
        for (target, allow, deny) in [
            (OverrideTarget::Role(cid), 0, 0b10),
            (OverrideTarget::Role(role.id), 0b10, 0),
            (OverrideTarget::User(member.id), 0b1000, 0),
            (OverrideTarget::User(other.id), 0, 0b1),
        ] {
            store
                .set_override(PermissionOverride {
                    channel_id: private.id,
                    target,
                    allow,
                    deny,
                })
                .await
                .unwrap();
        }

        let access = store.channel_access(private.id, member.id).await.unwrap();
        assert_eq!(access.channel, store.channel(private.id).await.unwrap());
        assert_eq!(access.owner_id, Some(owner.id));
        assert_eq!(access.caller, Some(member.clone()));
        let standing = access.member.unwrap();
        assert_eq!(standing.timed_out_until, Some(123_456));
        assert_eq!(standing.everyone_permissions, 0b1);
        assert_eq!(standing.held, vec![(role.id, 0b110)]);
        assert!(standing.private_member);
        // Every role override, and only this member's user override.
        let mut expected = vec![OverrideTarget::Role(cid), OverrideTarget::Role(role.id)];
        expected.sort_by_key(|t| match t {
            OverrideTarget::Role(id) | OverrideTarget::User(id) => id.0,
        });
        expected.push(OverrideTarget::User(member.id));
        let targets: Vec<OverrideTarget> = standing.overrides.iter().map(|o| o.target).collect();
        assert_eq!(targets, expected);
        assert_eq!(
            standing.overrides.last().map(|o| (o.allow, o.deny)),
            Some((0b1000, 0))
        );

        // The owner: a member holding Admin, not on the private list.
        let access = store.channel_access(private.id, owner.id).await.unwrap();
        let standing = access.member.unwrap();
        // Stored as u64::MAX by the helper; read back as the defined bits.
        assert_eq!(
            standing.held,
            vec![(created.admin_role.id, chinwag_protocol::permissions::ALL)]
        );
        assert!(!standing.private_member);
        assert_eq!(standing.timed_out_until, None);

        // A non-member: no standing, but the channel and their row.
        let access = store.channel_access(private.id, outsider.id).await.unwrap();
        assert!(access.member.is_none());
        assert_eq!(access.caller.map(|u| u.id), Some(outsider.id));

        // DMs carry their recipients, no community and no standing.
        let (dm, _) = store.open_dm(member.id, outsider.id).await.unwrap();
        let access = store.channel_access(dm.id, member.id).await.unwrap();
        assert_eq!(access.channel, dm);
        assert_eq!(access.owner_id, None);
        assert!(access.member.is_none());

        assert!(matches!(
            store.channel_access(Id(42), member.id).await,
            Err(StoreError::NotFound)
        ));
        let access = store.channel_access(private.id, Id(42)).await.unwrap();
        assert!(access.caller.is_none() && access.member.is_none());
    })
    .await;
}

#[tokio::test]
async fn messages_built_from_the_write_match_a_read_back() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let other = user(&store, "other").await;
        let cid = community(&store, owner.id).await.community.id;
        let channel = text_channel(&store, cid, "c").await;
        let new = |content: &str, mentions: Vec<Id>, parent: Option<Id>| NewMessage {
            channel_id: channel.id,
            author_id: owner.id,
            content: content.into(),
            mention_ids: mentions,
            thread_parent_id: parent,
            nonce: Some("n".into()),
        };

        let plain = store
            .create_message_by(new("plain", vec![], None), owner.clone())
            .await
            .unwrap();
        assert!(plain.parent.is_none() && plain.parent_author_id.is_none());
        let mut read = store.message(plain.message.id).await.unwrap();
        read.nonce = Some("n".into());
        assert_eq!(plain.message, read);

        let mentions = vec![other.id, owner.id, other.id];
        let mentioned = store
            .create_message_by(new("hi", mentions, None), owner.clone())
            .await
            .unwrap();
        let mut read = store.message(mentioned.message.id).await.unwrap();
        read.nonce = Some("n".into());
        assert_eq!(mentioned.message, read);

        let parent = post(&store, channel.id, other.id, "parent").await;
        let reply = store
            .create_message_by(new("reply", vec![other.id], Some(parent.id)), owner.clone())
            .await
            .unwrap();
        assert_eq!(reply.parent_author_id, Some(other.id));
        assert_eq!(reply.parent.map(|p| p.reply_count), Some(1));
        let mut read = store.message(reply.message.id).await.unwrap();
        read.nonce = Some("n".into());
        assert_eq!(reply.message, read);

        // The same through the read-back path.
        let again = store
            .create_message(new("again", vec![], Some(parent.id)))
            .await
            .unwrap();
        assert_eq!(again.parent_author_id, Some(other.id));
        assert_eq!(again.message.nonce.as_deref(), Some("n"));

        // Unknown channel or parent: not found, nothing written.
        let mut gone = new("x", vec![other.id], None);
        gone.channel_id = Id(42);
        assert!(matches!(
            store.create_message_by(gone, owner.clone()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .create_message_by(new("x", vec![], Some(Id(42))), owner.clone())
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .create_message_by(new("x", vec![], Some(reply.message.id)), owner.clone())
                .await,
            Err(StoreError::Invalid(_))
        ));
    })
    .await;
}

/// A plain message from `author` in `channel_id`.
fn plain(channel_id: Id, author_id: Id, content: &str) -> NewMessage {
    NewMessage {
        channel_id,
        author_id,
        content: content.into(),
        mention_ids: Vec::new(),
        thread_parent_id: None,
        nonce: None,
    }
}

#[tokio::test]
async fn a_guarded_message_is_written_only_while_each_version_is_current() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let member = user(&store, "member").await;
        let cid = community(&store, owner.id).await.community.id;
        let ch = text_channel(&store, cid, "general").await;
        let read = |who: Id| {
            let store = store.clone();
            async move { store.channel_access(ch.id, who).await.unwrap() }
        };
        let access = read(owner.id).await;
        let versions = access.versions().expect("a community channel has versions");
        let author = access.caller.clone().unwrap();
        let write = |versions| {
            store.create_message_if_current(plain(ch.id, owner.id, "hi"), author.clone(), versions)
        };

        let written = write(versions)
            .await
            .unwrap()
            .expect("current versions write");
        assert_eq!(written.message.author, author);
        assert_eq!(written.message.community_id, Some(cid));
        for stale in [
            chinwag_store::AccessVersions {
                channel: versions.channel - 1,
                ..versions
            },
            chinwag_store::AccessVersions {
                permissions: versions.permissions - 1,
                ..versions
            },
            chinwag_store::AccessVersions {
                author: versions.author - 1,
                ..versions
            },
        ] {
            assert!(write(stale).await.unwrap().is_none(), "{stale:?} is stale");
        }

        // Each kind of change moves a version, so the old ones stop writing.
        store.add_member(cid, member.id).await.unwrap();
        let after_join = read(owner.id).await.versions().unwrap();
        assert_eq!(after_join.permissions, versions.permissions + 1);
        assert!(
            write(versions).await.unwrap().is_none(),
            "membership changed"
        );
        store
            .update_channel(
                ch.id,
                ChannelUpdate {
                    topic: Some(Some("t".into())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(
            write(after_join).await.unwrap().is_none(),
            "the channel changed"
        );
        let after_topic = read(owner.id).await.versions().unwrap();
        store
            .update_profile(
                owner.id,
                ProfileUpdate {
                    display_name: Some("Owner".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(
            write(after_topic).await.unwrap().is_none(),
            "the author changed"
        );
        assert_eq!(
            store
                .history(ch.id, Cursor::Latest, 10)
                .await
                .unwrap()
                .len(),
            1
        );

        // A DM has no community, so nothing to guard with.
        let (dm, _) = store.open_dm(owner.id, member.id).await.unwrap();
        assert_eq!(
            store
                .channel_access(dm.id, owner.id)
                .await
                .unwrap()
                .versions(),
            None
        );
    })
    .await;
}
