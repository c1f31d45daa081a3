//! Communities, members, bans, roles and overrides on every backend.

use chinwag_protocol::Id;
use chinwag_protocol::permissions::ALL;
use chinwag_store::communities::{ADMIN_ROLE_NAME, ADMIN_ROLE_POSITION, EVERYONE_ROLE_NAME};
use chinwag_store::testing::{community, each_backend, post, text_channel, user};
use chinwag_store::{
    CommunityUpdate, NewRole, OverrideTarget, PermissionOverride, RoleUpdate, Store, StoreError,
};

#[tokio::test]
async fn creating_a_community_makes_roles_and_the_owner_member() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let created = community(&store, owner.id).await;
        let c = &created.community;
        assert_eq!(c.owner_id, owner.id);
        assert_eq!((c.version, c.permission_version), (1, 1));
        assert_eq!(created.everyone_role.id, c.id);
        assert_eq!(created.everyone_role.name, EVERYONE_ROLE_NAME);
        assert_eq!(created.everyone_role.position, 0);
        assert_eq!(created.everyone_role.permissions, 0b1);
        assert_eq!(created.admin_role.name, ADMIN_ROLE_NAME);
        assert_eq!(created.admin_role.position, ADMIN_ROLE_POSITION);
        // The helper stores u64::MAX; only the defined bits read back.
        assert_eq!(created.admin_role.permissions, ALL);
        let member = store.member(c.id, owner.id).await.unwrap();
        assert_eq!(member.user, owner);
        assert_eq!(member.role_ids, vec![created.admin_role.id]);
        assert_eq!(
            store.user_communities(owner.id).await.unwrap(),
            vec![c.clone()]
        );
        let roles = store.community_roles(c.id).await.unwrap();
        assert_eq!(
            roles,
            vec![created.everyone_role.clone(), created.admin_role.clone()]
        );
        // Unknown owner: nothing is left behind.
        let err = store
            .create_community(chinwag_store::NewCommunity {
                owner_id: Id(99),
                name: "x".into(),
                description: None,
                icon_url: None,
                everyone_permissions: 0,
                admin_permissions: 0,
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn updates_bump_versions_and_delete_cascades() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let c = community(&store, owner.id).await.community;
        let updated = store
            .update_community(
                c.id,
                CommunityUpdate {
                    name: Some("Renamed".into()),
                    description: Some(Some("desc".into())),
                    icon_url: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.name, "Renamed");
        assert_eq!(updated.description.as_deref(), Some("desc"));
        assert_eq!(updated.version, c.version + 1);
        assert_eq!(updated.permission_version, c.permission_version);
        assert_eq!(store.bump_permission_version(c.id).await.unwrap(), 2);

        let ch = text_channel(&store, c.id, "general").await;
        let m = post(&store, ch.id, owner.id, "hello").await;
        store.delete_community(c.id).await.unwrap();
        assert!(matches!(
            store.community(c.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.channel(ch.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.message(m.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(!store.is_member(c.id, owner.id).await.unwrap());
        assert!(store.user_communities(owner.id).await.unwrap().is_empty());
        assert!(matches!(
            store.delete_community(c.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .update_community(Id(5), CommunityUpdate::default())
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.bump_permission_version(Id(5)).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn members_join_leave_and_page_by_user_id() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let c = community(&store, owner.id).await.community;
        let mut ids = vec![owner.id];
        for i in 0..5 {
            let u = user(&store, &format!("user{i}")).await;
            let m = store.add_member(c.id, u.id).await.unwrap();
            assert!(m.role_ids.is_empty());
            ids.push(u.id);
        }
        ids.sort();
        assert!(matches!(
            store.add_member(c.id, ids[1]).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.add_member(c.id, Id(3)).await,
            Err(StoreError::NotFound)
        ));
        let first = store.members(c.id, None, 4).await.unwrap();
        let rest = store
            .members(c.id, Some(first[3].user.id), 4)
            .await
            .unwrap();
        let paged: Vec<Id> = first.iter().chain(&rest).map(|m| m.user.id).collect();
        assert_eq!(paged, ids);
        assert_eq!(store.member_ids(c.id).await.unwrap(), ids);
        assert!(matches!(
            store.members(c.id, None, 0).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.members(c.id, None, 101).await,
            Err(StoreError::Invalid(_))
        ));

        let before = store.community(c.id).await.unwrap().permission_version;
        store.remove_member(c.id, ids[2]).await.unwrap();
        assert!(!store.is_member(c.id, ids[2]).await.unwrap());
        assert_eq!(
            store.community(c.id).await.unwrap().permission_version,
            before + 1
        );
        assert!(matches!(
            store.remove_member(c.id, ids[2]).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.member(c.id, ids[2]).await,
            Err(StoreError::NotFound)
        ));

        let until = chinwag_store::id::now_ms() + 60_000;
        let m = store.set_timeout(c.id, ids[3], Some(until)).await.unwrap();
        assert_eq!(m.timed_out_until, Some(until));
        let m = store.set_timeout(c.id, ids[3], None).await.unwrap();
        assert_eq!(m.timed_out_until, None);
        let m = store
            .set_nickname(c.id, ids[3], Some("nick"))
            .await
            .unwrap();
        assert_eq!(m.nickname.as_deref(), Some("nick"));
        assert!(matches!(
            store.set_timeout(c.id, ids[2], None).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn a_ban_removes_membership_and_blocks_rejoining() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let created = community(&store, owner.id).await;
        let c = created.community;
        let eve = user(&store, "eve").await;
        store.add_member(c.id, eve.id).await.unwrap();
        let role = store
            .create_role(NewRole {
                community_id: c.id,
                name: "mod".into(),
                permissions: 0b10,
                position: 5,
                color: None,
            })
            .await
            .unwrap();
        store.assign_role(c.id, eve.id, role.id).await.unwrap();
        let private = store
            .create_channel(chinwag_store::NewChannel {
                community_id: c.id,
                kind: chinwag_protocol::model::ChannelKind::Text,
                name: "secret".into(),
                topic: None,
                private: true,
            })
            .await
            .unwrap();
        store
            .add_private_channel_member(private.id, eve.id)
            .await
            .unwrap();

        let ban = store
            .ban(c.id, eve.id, owner.id, Some("spam"))
            .await
            .unwrap();
        assert_eq!(ban.user, eve);
        assert_eq!(ban.actor_id, owner.id);
        assert_eq!(ban.reason.as_deref(), Some("spam"));
        assert!(!store.is_member(c.id, eve.id).await.unwrap());
        assert!(store.is_banned(c.id, eve.id).await.unwrap());
        assert!(
            store
                .member_role_ids(c.id, eve.id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            !store
                .is_private_channel_member(private.id, eve.id)
                .await
                .unwrap()
        );
        assert!(matches!(
            store.add_member(c.id, eve.id).await,
            Err(StoreError::Banned)
        ));
        // Banning again replaces the reason.
        let again = store.ban(c.id, eve.id, owner.id, None).await.unwrap();
        assert_eq!(again.reason, None);
        assert_eq!(store.bans(c.id, None, 100).await.unwrap().len(), 1);

        assert!(store.unban(c.id, eve.id).await.unwrap());
        assert!(!store.unban(c.id, eve.id).await.unwrap());
        assert!(!store.is_banned(c.id, eve.id).await.unwrap());
        store.add_member(c.id, eve.id).await.unwrap();
        assert!(matches!(
            store.ban(c.id, Id(77), owner.id, None).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn roles_update_assign_and_bump_permission_version() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let created = community(&store, owner.id).await;
        let c = created.community;
        let pv =
            |store: Store| async move { store.community(c.id).await.unwrap().permission_version };
        let mut expected = pv(store.clone()).await;

        let role = store
            .create_role(NewRole {
                community_id: c.id,
                name: "helper".into(),
                permissions: 1 << 63 | 1 << 12,
                position: 3,
                color: Some(0xff8800),
            })
            .await
            .unwrap();
        expected += 1;
        // Bits no permission defines are dropped on read.
        assert_eq!(role.permissions, 1 << 12);
        assert_eq!(role.color, Some(0xff8800));
        assert_eq!(role.version, 1);
        assert_eq!(pv(store.clone()).await, expected);

        let updated = store
            .update_role(
                role.id,
                RoleUpdate {
                    name: Some("helpers".into()),
                    permissions: Some(0b111),
                    position: Some(4),
                    color: Some(None),
                },
            )
            .await
            .unwrap();
        expected += 1;
        assert_eq!(
            (
                updated.name.as_str(),
                updated.permissions,
                updated.position,
                updated.color
            ),
            ("helpers", 0b111, 4, None)
        );
        assert_eq!(updated.version, 2);
        assert_eq!(pv(store.clone()).await, expected);

        assert!(store.assign_role(c.id, owner.id, role.id).await.unwrap());
        expected += 1;
        assert!(!store.assign_role(c.id, owner.id, role.id).await.unwrap());
        assert_eq!(pv(store.clone()).await, expected);
        let mut held = store.member_role_ids(c.id, owner.id).await.unwrap();
        held.sort();
        let mut want = vec![created.admin_role.id, role.id];
        want.sort();
        assert_eq!(held, want);
        assert!(store.unassign_role(c.id, owner.id, role.id).await.unwrap());
        assert!(!store.unassign_role(c.id, owner.id, role.id).await.unwrap());

        // Rules around @everyone and foreign roles.
        assert!(matches!(
            store.assign_role(c.id, owner.id, c.id).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.delete_role(c.id).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store
                .update_role(
                    c.id,
                    RoleUpdate {
                        position: Some(2),
                        ..Default::default()
                    }
                )
                .await,
            Err(StoreError::Invalid(_))
        ));
        let everyone = store
            .update_role(
                c.id,
                RoleUpdate {
                    permissions: Some(0b11),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(everyone.permissions, 0b11);
        let stranger = user(&store, "stranger").await;
        assert!(matches!(
            store.assign_role(c.id, stranger.id, role.id).await,
            Err(StoreError::NotFound)
        ));
        let other = community(&store, stranger.id).await.community;
        assert!(matches!(
            store.assign_role(other.id, stranger.id, role.id).await,
            Err(StoreError::NotFound)
        ));

        store.assign_role(c.id, owner.id, role.id).await.unwrap();
        let deleted = store.delete_role(role.id).await.unwrap();
        assert_eq!(deleted.id, role.id);
        assert_eq!(
            store.member_role_ids(c.id, owner.id).await.unwrap(),
            vec![created.admin_role.id]
        );
        assert!(matches!(
            store.role(role.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.update_role(Id(1), RoleUpdate::default()).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn channel_overrides_set_replace_and_delete() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let c = community(&store, owner.id).await.community;
        let ch = text_channel(&store, c.id, "general").await;
        let role_o = PermissionOverride {
            channel_id: ch.id,
            target: OverrideTarget::Role(c.id),
            allow: 0,
            deny: 1 << 12,
        };
        let user_o = PermissionOverride {
            channel_id: ch.id,
            target: OverrideTarget::User(owner.id),
            allow: 0b100,
            deny: 0,
        };
        store.set_override(role_o.clone()).await.unwrap();
        store.set_override(user_o.clone()).await.unwrap();
        let replaced = PermissionOverride {
            allow: 0b1,
            ..user_o.clone()
        };
        store.set_override(replaced.clone()).await.unwrap();
        assert_eq!(
            store.channel_overrides(ch.id).await.unwrap(),
            vec![role_o.clone(), replaced]
        );
        assert_eq!(store.community(c.id).await.unwrap().permission_version, 4);
        assert!(store.delete_override(ch.id, user_o.target).await.unwrap());
        assert!(!store.delete_override(ch.id, user_o.target).await.unwrap());
        assert_eq!(store.channel_overrides(ch.id).await.unwrap(), vec![role_o]);
        assert!(matches!(
            store
                .set_override(PermissionOverride {
                    channel_id: Id(9),
                    ..user_o
                })
                .await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn undefined_override_bits_are_dropped_on_read() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let c = community(&store, owner.id).await.community;
        let ch = text_channel(&store, c.id, "general").await;
        store
            .set_override(PermissionOverride {
                channel_id: ch.id,
                target: OverrideTarget::Role(c.id),
                allow: 1 << 63 | 0b1,
                deny: u64::MAX,
            })
            .await
            .unwrap();
        let read = store.channel_overrides(ch.id).await.unwrap();
        assert_eq!((read[0].allow, read[0].deny), (0b1, ALL));
    })
    .await;
}

#[tokio::test]
async fn bans_come_in_pages_by_user_id() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let c = community(&store, owner.id).await.community;
        let mut banned = Vec::new();
        for name in ["b1", "b2", "b3"] {
            let u = user(&store, name).await.id;
            store.ban(c.id, u, owner.id, None).await.unwrap();
            banned.push(u);
        }
        let ids =
            |bans: Vec<chinwag_store::Ban>| bans.into_iter().map(|b| b.user.id).collect::<Vec<_>>();
        let first = ids(store.bans(c.id, None, 2).await.unwrap());
        assert_eq!(first, banned[..2]);
        let rest = ids(store.bans(c.id, Some(first[1]), 2).await.unwrap());
        assert_eq!(rest, banned[2..]);
        assert!(matches!(
            store.bans(c.id, None, 101).await,
            Err(StoreError::Invalid(_))
        ));
    })
    .await;
}
