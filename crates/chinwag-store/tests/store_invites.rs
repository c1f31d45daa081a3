//! Invites: limits, expiry and accepting, on every backend.

use chinwag_store::testing::{community, each_backend, user};
use chinwag_store::{NewInvite, Store, StoreError};

#[tokio::test]
async fn invites_enforce_max_uses_atomically() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let c = community(&store, owner.id).await.community;
        let now = chinwag_store::id::now_ms();
        let invite = store
            .create_invite(NewInvite {
                community_id: c.id,
                creator_id: owner.id,
                expires_at: None,
                max_uses: Some(3),
            })
            .await
            .unwrap();
        assert_eq!(invite.code.len(), chinwag_store::invites::INVITE_CODE_LEN);
        assert_eq!(invite.uses, 0);
        assert_eq!(store.invite(&invite.code).await.unwrap(), invite);

        // Ten concurrent uses: exactly three succeed.
        let uses = (0..10).map(|_| {
            let store = store.clone();
            let code = invite.code.clone();
            tokio::spawn(async move { store.use_invite(&code, now).await })
        });
        let mut ok = 0;
        for h in uses {
            match h.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::InviteExhausted) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(ok, 3);
        assert_eq!(store.invite(&invite.code).await.unwrap().uses, 3);
        assert!(matches!(
            store.use_invite("nope", now).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .create_invite(NewInvite {
                    community_id: c.id,
                    creator_id: owner.id,
                    expires_at: None,
                    max_uses: Some(0),
                })
                .await,
            Err(StoreError::Invalid(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn expired_invites_fail_and_accepting_joins_once() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let c = community(&store, owner.id).await.community;
        let now = chinwag_store::id::now_ms();
        let invite = store
            .create_invite(NewInvite {
                community_id: c.id,
                creator_id: owner.id,
                expires_at: Some(now + 1_000),
                max_uses: Some(1),
            })
            .await
            .unwrap();
        let joiner = user(&store, "joiner").await;
        // After expiry: expired wins, nothing consumed.
        assert!(matches!(
            store
                .accept_invite(&invite.code, joiner.id, now + 1_000)
                .await,
            Err(StoreError::InviteExpired)
        ));
        assert!(matches!(
            store.use_invite(&invite.code, now + 5_000).await,
            Err(StoreError::InviteExpired)
        ));
        // Already a member: conflict, nothing consumed.
        assert!(matches!(
            store.accept_invite(&invite.code, owner.id, now).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.invite(&invite.code).await.unwrap().uses, 0);
        let member = store
            .accept_invite(&invite.code, joiner.id, now)
            .await
            .unwrap();
        assert_eq!(member.user.id, joiner.id);
        assert!(store.is_member(c.id, joiner.id).await.unwrap());
        let late = user(&store, "late").await;
        assert!(matches!(
            store.accept_invite(&invite.code, late.id, now).await,
            Err(StoreError::InviteExhausted)
        ));

        // Banned users cannot use an invite.
        let open = store
            .create_invite(NewInvite {
                community_id: c.id,
                creator_id: owner.id,
                expires_at: None,
                max_uses: None,
            })
            .await
            .unwrap();
        store.ban(c.id, late.id, owner.id, None).await.unwrap();
        assert!(matches!(
            store.accept_invite(&open.code, late.id, now).await,
            Err(StoreError::Banned)
        ));
        assert_eq!(store.invite(&open.code).await.unwrap().uses, 0);

        assert_eq!(store.community_invites(c.id).await.unwrap().len(), 2);
        assert!(store.delete_invite(&open.code).await.unwrap());
        assert!(!store.delete_invite(&open.code).await.unwrap());
        assert!(matches!(
            store.invite(&open.code).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn a_community_holds_at_most_max_live_invites() {
    use chinwag_store::invites::MAX_LIVE_INVITES;
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let joiner = user(&store, "joiner").await;
        let c = community(&store, owner.id).await.community;
        let invite = |max_uses: Option<i64>, expires_at: Option<i64>| NewInvite {
            community_id: c.id,
            creator_id: owner.id,
            expires_at,
            max_uses,
        };
        // Neither a used-up nor an expired invite counts.
        let once = store.create_invite(invite(Some(1), None)).await.unwrap();
        let now = chinwag_store::id::now_ms();
        store
            .accept_invite(&once.code, joiner.id, now)
            .await
            .unwrap();
        store
            .create_invite(invite(None, Some(now - 1000)))
            .await
            .unwrap();
        let mut last = None;
        for _ in 0..MAX_LIVE_INVITES {
            last = Some(store.create_invite(invite(None, None)).await.unwrap());
        }
        match store.create_invite(invite(None, None)).await {
            Err(StoreError::Limit(why)) => assert!(why.contains("1000"), "{why}"),
            other => panic!("expected the cap, got {other:?}"),
        }
        // Revoking one makes room for one.
        assert!(store.delete_invite(&last.unwrap().code).await.unwrap());
        store.create_invite(invite(None, None)).await.unwrap();
        assert!(matches!(
            store.create_invite(invite(None, None)).await,
            Err(StoreError::Limit(_))
        ));
    })
    .await;
}
