//! Community channels, reordering, private channels and DMs on every backend.

use chinwag_protocol::Id;
use chinwag_protocol::model::ChannelKind;
use chinwag_store::channels::MAX_CHANNELS_PER_COMMUNITY;
use chinwag_store::dms::MAX_GROUP_DM_RECIPIENTS;
use chinwag_store::testing::{
    community, each_backend, each_backend_pair, post, text_channel, user,
};
use chinwag_store::{ChannelUpdate, NewChannel, Store, StoreError};

#[tokio::test]
async fn channels_append_to_the_list_and_bump_versions() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let c = community(&store, owner.id).await.community;
        let a = text_channel(&store, c.id, "a").await;
        let voice = store
            .create_channel(NewChannel {
                community_id: c.id,
                kind: ChannelKind::Voice,
                name: "voice".into(),
                topic: Some("talk".into()),
                private: false,
            })
            .await
            .unwrap();
        assert_eq!((a.position, voice.position), (0, 1));
        assert_eq!(voice.kind, ChannelKind::Voice);
        assert_eq!(voice.community_id, Some(c.id));
        assert!(voice.recipient_ids.is_empty());
        assert!(matches!(
            store
                .create_channel(NewChannel {
                    community_id: c.id,
                    kind: ChannelKind::Dm,
                    name: "x".into(),
                    topic: None,
                    private: false,
                })
                .await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store
                .create_channel(NewChannel {
                    community_id: Id(1),
                    kind: ChannelKind::Text,
                    name: "x".into(),
                    topic: None,
                    private: false,
                })
                .await,
            Err(StoreError::NotFound)
        ));

        let pv = store.community(c.id).await.unwrap().permission_version;
        let updated = store
            .update_channel(
                a.id,
                ChannelUpdate {
                    name: Some("renamed".into()),
                    topic: Some(Some("topic".into())),
                    private: Some(true),
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.name, "renamed");
        assert_eq!(updated.topic.as_deref(), Some("topic"));
        assert!(updated.private);
        assert_eq!(updated.version, a.version + 1);
        assert_eq!(
            store.community(c.id).await.unwrap().permission_version,
            pv + 1
        );
        let cleared = store
            .update_channel(
                a.id,
                ChannelUpdate {
                    topic: Some(None),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (cleared.topic.clone(), cleared.version),
            (None, a.version + 2)
        );

        let deleted = store.delete_channel(voice.id).await.unwrap();
        assert_eq!(deleted.channel.id, voice.id);
        assert!(deleted.voice_left.is_empty());
        assert!(matches!(
            store.channel(voice.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_channel(voice.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .update_channel(voice.id, ChannelUpdate::default())
                .await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.community_channels(c.id).await.unwrap(), vec![cleared]);
    })
    .await;
}

#[tokio::test]
async fn reorder_is_all_or_nothing() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let c = community(&store, owner.id).await.community;
        let mut chans = Vec::new();
        for name in ["a", "b", "c", "d"] {
            chans.push(text_channel(&store, c.id, name).await);
        }
        let ids: Vec<Id> = chans.iter().map(|ch| ch.id).collect();
        let new_order = vec![ids[3], ids[1], ids[0], ids[2]];
        let reordered = store.reorder_channels(c.id, &new_order).await.unwrap();
        assert_eq!(
            reordered.iter().map(|c| c.id).collect::<Vec<_>>(),
            new_order
        );
        assert_eq!(
            reordered.iter().map(|c| c.position).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        // b kept position 1, so only the others' versions moved.
        let versions: Vec<i64> = reordered.iter().map(|c| c.version).collect();
        assert_eq!(versions, vec![2, 1, 2, 2]);

        // A foreign id, a missing id, or a duplicate: nothing changes.
        let other = community(&store, owner.id).await.community;
        let foreign = text_channel(&store, other.id, "x").await;
        for bad in [
            vec![ids[0], ids[1], ids[2], foreign.id],
            vec![ids[0], ids[1], ids[2]],
            vec![ids[0], ids[1], ids[2], ids[3], ids[3]],
        ] {
            assert!(matches!(
                store.reorder_channels(c.id, &bad).await,
                Err(StoreError::Invalid(_))
            ));
            assert_eq!(store.community_channels(c.id).await.unwrap(), reordered);
        }
    })
    .await;
}

#[tokio::test]
async fn private_channel_members_are_community_members() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let c = community(&store, owner.id).await.community;
        let ch = store
            .create_channel(NewChannel {
                community_id: c.id,
                kind: ChannelKind::Text,
                name: "staff".into(),
                topic: None,
                private: true,
            })
            .await
            .unwrap();
        let outsider = user(&store, "outsider").await;
        assert!(matches!(
            store.add_private_channel_member(ch.id, outsider.id).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(
            store
                .add_private_channel_member(ch.id, owner.id)
                .await
                .unwrap()
        );
        assert!(
            !store
                .add_private_channel_member(ch.id, owner.id)
                .await
                .unwrap()
        );
        assert_eq!(
            store.private_channel_members(ch.id).await.unwrap(),
            vec![owner.id]
        );
        assert!(
            store
                .is_private_channel_member(ch.id, owner.id)
                .await
                .unwrap()
        );
        assert!(
            store
                .remove_private_channel_member(ch.id, owner.id)
                .await
                .unwrap()
        );
        assert!(
            !store
                .remove_private_channel_member(ch.id, owner.id)
                .await
                .unwrap()
        );
        assert!(
            !store
                .is_private_channel_member(ch.id, owner.id)
                .await
                .unwrap()
        );
        // Leaving the community drops private access.
        store.add_member(c.id, outsider.id).await.unwrap();
        store
            .add_private_channel_member(ch.id, outsider.id)
            .await
            .unwrap();
        store.remove_member(c.id, outsider.id).await.unwrap();
        assert!(
            store
                .private_channel_members(ch.id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            store.add_private_channel_member(Id(3), owner.id).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn one_dm_per_pair_of_users() {
    each_backend(|store: Store| async move {
        let a = user(&store, "a").await;
        let b = user(&store, "b").await;
        let (dm, created) = store.open_dm(a.id, b.id).await.unwrap();
        assert!(created);
        assert_eq!(dm.kind, ChannelKind::Dm);
        assert_eq!(dm.community_id, None);
        let mut pair = vec![a.id, b.id];
        pair.sort();
        assert_eq!(dm.recipient_ids, pair);
        let (again, created) = store.open_dm(b.id, a.id).await.unwrap();
        assert!(!created);
        assert_eq!(again, dm);

        // Concurrent opens of a new pair all land on one channel.
        let c = user(&store, "c").await;
        let opens = (0..6).map(|i| {
            let store = store.clone();
            let (x, y) = if i % 2 == 0 {
                (a.id, c.id)
            } else {
                (c.id, a.id)
            };
            tokio::spawn(async move { store.open_dm(x, y).await.unwrap() })
        });
        let mut results = Vec::new();
        for h in opens {
            results.push(h.await.unwrap());
        }
        assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
        assert!(results.iter().all(|(ch, _)| ch.id == results[0].0.id));

        assert!(matches!(
            store.open_dm(a.id, a.id).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.open_dm(a.id, Id(5)).await,
            Err(StoreError::NotFound)
        ));
        let dms = store.user_dms(a.id, None, 100).await.unwrap();
        assert_eq!(dms.channels.len(), 2);
        assert!(store.is_dm_recipient(dm.id, a.id).await.unwrap());
        assert!(!store.is_dm_recipient(dm.id, c.id).await.unwrap());
        assert_eq!(store.dm_recipients(dm.id).await.unwrap(), pair);
    })
    .await;
}

#[tokio::test]
async fn group_dms_hold_two_to_ten_users() {
    each_backend(|store: Store| async move {
        let mut users = Vec::new();
        for i in 0..=MAX_GROUP_DM_RECIPIENTS {
            users.push(user(&store, &format!("u{i}")).await.id);
        }
        let owner = users[0];
        let group = store
            .create_group_dm(owner, &users[1..MAX_GROUP_DM_RECIPIENTS], "crew")
            .await
            .unwrap();
        assert_eq!(group.kind, ChannelKind::GroupDm);
        assert_eq!(group.name, "crew");
        assert_eq!(group.recipient_ids.len(), MAX_GROUP_DM_RECIPIENTS);
        assert!(matches!(
            store.create_group_dm(owner, &users[1..], "too many").await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.create_group_dm(owner, &[owner], "alone").await,
            Err(StoreError::Invalid(_))
        ));
        // Duplicates collapse.
        let pair = store
            .create_group_dm(owner, &[users[1], users[1], owner], "pair")
            .await
            .unwrap();
        assert_eq!(pair.recipient_ids.len(), 2);
        assert!(matches!(
            store.create_group_dm(owner, &[Id(4)], "ghost").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store
                .user_dms(users[1], None, 100)
                .await
                .unwrap()
                .channels
                .len(),
            2
        );
    })
    .await;
}

#[tokio::test]
async fn dms_page_by_last_activity() {
    each_backend(|store: Store| async move {
        let me = user(&store, "me").await.id;
        let mut dms = Vec::new();
        for i in 0..4 {
            let other = user(&store, &format!("o{i}")).await.id;
            dms.push(store.open_dm(me, other).await.unwrap().0.id);
        }
        // Newest first by creation, until a message makes the oldest the
        // most recently active.
        post(&store, dms[0], me, "hi").await;
        let ids = |page: &chinwag_store::dms::DmPage| {
            page.channels.iter().map(|c| c.id).collect::<Vec<_>>()
        };
        let first = store.user_dms(me, None, 2).await.unwrap();
        assert_eq!(ids(&first), [dms[0], dms[3]]);
        // A DM of the next page becoming active moves above the cursor: it
        // is not repeated, and the page goes on from where it was.
        post(&store, dms[1], me, "now the most active").await;
        let second = store.user_dms(me, first.next, 2).await.unwrap();
        assert_eq!(ids(&second), [dms[2]]);
        assert_eq!(second.next, None, "the last page");
        let all = store.user_dms(me, None, 100).await.unwrap();
        assert_eq!(ids(&all), [dms[1], dms[0], dms[3], dms[2]]);
        assert_eq!(all.next, None);
        let stranger = user(&store, "stranger").await.id;
        assert!(
            store
                .user_dms(stranger, None, 2)
                .await
                .unwrap()
                .channels
                .is_empty()
        );
        assert!(matches!(
            store.user_dms(me, None, 0).await,
            Err(StoreError::Invalid(_))
        ));
        let mut all = store.user_dm_ids(me).await.unwrap();
        all.sort_unstable();
        let mut want = dms.clone();
        want.sort_unstable();
        assert_eq!(all, want);
    })
    .await;
}

#[tokio::test]
async fn the_last_one_out_deletes_a_group_dm() {
    each_backend(|store: Store| async move {
        let users = [
            user(&store, "a").await.id,
            user(&store, "b").await.id,
            user(&store, "c").await.id,
        ];
        let group = store
            .create_group_dm(users[0], &users[1..], "")
            .await
            .unwrap();
        post(&store, group.id, users[0], "kept until the last one leaves").await;
        for u in users {
            assert_eq!(store.user_dm_ids(u).await.unwrap(), [group.id]);
        }

        assert!(store.leave_group_dm(group.id, users[0]).await.unwrap());
        assert!(!store.leave_group_dm(group.id, users[0]).await.unwrap());
        assert!(store.leave_group_dm(group.id, users[1]).await.unwrap());
        assert_eq!(
            store.channel(group.id).await.unwrap().recipient_ids,
            [users[2]]
        );
        assert!(store.leave_group_dm(group.id, users[2]).await.unwrap());
        assert!(matches!(
            store.channel(group.id).await,
            Err(StoreError::NotFound)
        ));
        for u in users {
            assert!(store.user_dm_ids(u).await.unwrap().is_empty());
        }
    })
    .await;
}

#[tokio::test]
async fn two_nodes_creating_the_last_channel_pass_the_cap_once() {
    each_backend_pair(|one: Store, two: Store| async move {
        let owner = user(&one, "owner").await;
        let c = community(&one, owner.id).await.community;
        let held = one.community_channels(c.id).await.unwrap().len();
        for n in held..MAX_CHANNELS_PER_COMMUNITY - 1 {
            text_channel(&one, c.id, &format!("c{n}")).await;
        }
        let new = |name: &str| NewChannel {
            community_id: c.id,
            kind: ChannelKind::Text,
            name: name.into(),
            topic: None,
            private: false,
        };
        for round in 0..10 {
            let (a, b) = tokio::join!(
                one.create_channel(new("last on one")),
                two.create_channel(new("last on two")),
            );
            let (made, refused): (Vec<_>, Vec<_>) = [a, b].into_iter().partition(Result::is_ok);
            assert_eq!(made.len(), 1, "round {round}: one passes the cap");
            assert!(
                matches!(refused[0], Err(StoreError::Limit(_))),
                "round {round}: the other is refused by the cap: {refused:?}"
            );
            let made: Vec<_> = made.into_iter().map(Result::unwrap).collect();
            if round < 9 {
                one.delete_channel(made[0].id).await.unwrap();
            }
        }
        let channels = one.community_channels(c.id).await.unwrap();
        assert_eq!(channels.len(), MAX_CHANNELS_PER_COMMUNITY);
        // One position each: the create counted and placed under the lock.
        let mut positions: Vec<_> = channels.iter().map(|ch| ch.position).collect();
        positions.dedup();
        assert_eq!(positions.len(), MAX_CHANNELS_PER_COMMUNITY);
    })
    .await;
}
