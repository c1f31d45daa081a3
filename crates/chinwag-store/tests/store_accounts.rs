//! Accounts: users, profiles, passwords and refresh tokens on every backend.

use chinwag_protocol::Id;
use chinwag_store::testing::{each_backend, user};
use chinwag_store::{NewUser, ProfileUpdate, Store, StoreError, hash_password, verify_password};

#[tokio::test]
async fn usernames_are_unique_regardless_of_case() {
    each_backend(|store: Store| async move {
        let alice = user(&store, "Alice").await;
        assert_eq!(alice.version, 1);
        assert!(!alice.bot);
        let err = store
            .create_user(NewUser {
                username: "alice".into(),
                display_name: "Other".into(),
                password_hash: None,
                bot: false,
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        let bot = store
            .create_user(NewUser {
                username: "helper-bot".into(),
                display_name: "Helper".into(),
                password_hash: None,
                bot: true,
            })
            .await
            .unwrap();
        assert!(bot.bot);
        assert_eq!(store.user(alice.id).await.unwrap(), alice);
        assert_eq!(
            store.users(&[alice.id, bot.id, Id(1)]).await.unwrap().len(),
            2
        );
        assert!(matches!(
            store
                .create_user(NewUser {
                    username: "has space".into(),
                    display_name: "x".into(),
                    password_hash: None,
                    bot: false,
                })
                .await,
            Err(StoreError::Invalid(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn login_reads_the_password_hash_by_username() {
    each_backend(|store: Store| async move {
        let hash = hash_password("correct horse").unwrap();
        let created = store
            .create_user(NewUser {
                username: "Bob".into(),
                display_name: "Bob".into(),
                password_hash: Some(hash),
                bot: false,
            })
            .await
            .unwrap();
        let creds = store.credentials_by_username("BOB").await.unwrap();
        assert_eq!(creds.user, created);
        assert!(verify_password(
            "correct horse",
            creds.password_hash.as_deref().unwrap()
        ));
        assert!(matches!(
            store.credentials_by_username("nobody").await,
            Err(StoreError::NotFound)
        ));
        store
            .set_password_hash(created.id, &hash_password("new").unwrap())
            .await
            .unwrap();
        let creds = store.credentials_by_username("bob").await.unwrap();
        assert!(verify_password(
            "new",
            creds.password_hash.as_deref().unwrap()
        ));
        assert_eq!(creds.user.version, 2);
    })
    .await;
}

#[tokio::test]
async fn profile_updates_bump_the_version() {
    each_backend(|store: Store| async move {
        let u = user(&store, "carol").await;
        let updated = store
            .update_profile(
                u.id,
                ProfileUpdate {
                    display_name: Some("Carol C".into()),
                    avatar_url: Some(Some("https://img/c.png".into())),
                    bio: Some(Some("hi".into())),
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.display_name, "Carol C");
        assert_eq!(updated.avatar_url.as_deref(), Some("https://img/c.png"));
        assert_eq!(updated.version, u.version + 1);
        let cleared = store
            .update_profile(
                u.id,
                ProfileUpdate {
                    bio: Some(None),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(cleared.bio, None);
        assert_eq!(cleared.display_name, "Carol C");
        assert_eq!(cleared.avatar_url.as_deref(), Some("https://img/c.png"));
        assert_eq!(cleared.version, u.version + 2);
        assert!(matches!(
            store.update_profile(Id(42), ProfileUpdate::default()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.user(Id(42)).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn refresh_tokens_rotate_once_and_revoke() {
    each_backend(|store: Store| async move {
        let u = user(&store, "dave").await;
        let now = chinwag_store::id::now_ms();
        let t1 = chinwag_store::generate_token();
        let created = store
            .create_refresh_token(u.id, &t1, now + 60_000)
            .await
            .unwrap();
        let found = store.valid_refresh_token(&t1, now).await.unwrap().unwrap();
        assert_eq!(found.user_id, u.id);
        assert_eq!(found.session_id, created.session_id);
        // Expired at a later time.
        assert!(
            store
                .valid_refresh_token(&t1, now + 60_000)
                .await
                .unwrap()
                .is_none()
        );

        let t2 = chinwag_store::generate_token();
        let rotated = store
            .rotate_refresh_token(&t1, &t2, now + 120_000, now)
            .await
            .unwrap();
        assert_eq!(rotated.user_id, u.id);
        // Rotation keeps the session.
        assert_eq!(rotated.session_id, created.session_id);
        assert!(store.valid_refresh_token(&t1, now).await.unwrap().is_none());
        assert!(store.valid_refresh_token(&t2, now).await.unwrap().is_some());
        // Replaying the old token fails and stores nothing.
        let t3 = chinwag_store::generate_token();
        assert!(matches!(
            store
                .rotate_refresh_token(&t1, &t3, now + 120_000, now)
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(store.valid_refresh_token(&t3, now).await.unwrap().is_none());

        assert_eq!(
            store.revoke_refresh_token(&t2).await.unwrap(),
            Some((u.id, created.session_id))
        );
        assert_eq!(store.revoke_refresh_token(&t2).await.unwrap(), None);
        // The logout signed the session out; the rotation before it did not.
        let signed_out = store.signed_out_sessions(now).await.unwrap();
        assert_eq!(signed_out.len(), 1, "{signed_out:?}");
        assert_eq!(signed_out[0].0, created.session_id);
        assert!(signed_out[0].1 >= now);
        assert!(
            store
                .signed_out_sessions(chinwag_store::id::now_ms() + 1000)
                .await
                .unwrap()
                .is_empty()
        );
        let mut sessions = vec![created.session_id];
        for _ in 0..3 {
            let t = chinwag_store::generate_token();
            let token = store
                .create_refresh_token(u.id, &t, now + 1_000)
                .await
                .unwrap();
            sessions.push(token.session_id);
        }
        // Each login starts a session of its own.
        sessions.sort();
        sessions.dedup();
        assert_eq!(sessions.len(), 4);
        assert_eq!(store.revoke_all_refresh_tokens(u.id).await.unwrap(), 3);
        // Revoking all of them signs every session out.
        assert_eq!(store.signed_out_sessions(now).await.unwrap().len(), 4);
        assert!(matches!(
            store.create_refresh_token(Id(7), "x", now).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn a_rotated_token_used_again_revokes_every_token_of_its_user() {
    each_backend(|store| async move {
        let now = chinwag_store::id::now_ms();
        let u = user(&store, "rotor").await;
        let bystander = user(&store, "bystander").await;
        let (t1, t2, other, theirs) = (
            chinwag_store::generate_token(),
            chinwag_store::generate_token(),
            chinwag_store::generate_token(),
            chinwag_store::generate_token(),
        );
        for (owner, token) in [(u.id, &t1), (u.id, &other), (bystander.id, &theirs)] {
            store
                .create_refresh_token(owner, token, now + 60_000)
                .await
                .unwrap();
        }
        // Logged out, or never rotated: not a reuse.
        assert_eq!(store.revoke_on_reuse(&other).await.unwrap(), None);
        assert_eq!(store.revoke_on_reuse("unknown").await.unwrap(), None);
        store
            .rotate_refresh_token(&t1, &t2, now + 60_000, now)
            .await
            .unwrap();
        assert_eq!(store.revoke_on_reuse(&t1).await.unwrap(), Some((u.id, 2)));
        assert!(store.valid_refresh_token(&t2, now).await.unwrap().is_none());
        assert!(
            store
                .valid_refresh_token(&other, now)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .valid_refresh_token(&theirs, now)
                .await
                .unwrap()
                .is_some()
        );
    })
    .await;
}

#[tokio::test]
async fn expired_refresh_tokens_are_pruned_in_batches() {
    each_backend(|store: Store| async move {
        let u = user(&store, "pruned").await;
        let now = chinwag_store::id::now_ms();
        // More than two batches expired long ago, one token just before
        // the cutoff and one just after it, and one live token.
        let backlog = 2 * chinwag_store::accounts::PRUNE_BATCH + 7;
        for _ in 0..backlog {
            let t = chinwag_store::generate_token();
            store
                .create_refresh_token(u.id, &t, now - 86_400_000)
                .await
                .unwrap();
        }
        let cutoff = now - 1_000;
        let (before, after, live) = (
            chinwag_store::generate_token(),
            chinwag_store::generate_token(),
            chinwag_store::generate_token(),
        );
        store
            .create_refresh_token(u.id, &before, cutoff - 1)
            .await
            .unwrap();
        store
            .create_refresh_token(u.id, &after, cutoff)
            .await
            .unwrap();
        store
            .create_refresh_token(u.id, &live, now + 60_000)
            .await
            .unwrap();
        // Signed out after it expired: still within the kept window.
        assert!(store.revoke_refresh_token(&after).await.unwrap().is_some());

        let live_is_valid = || async {
            store
                .valid_refresh_token(&live, now)
                .await
                .unwrap()
                .is_some()
        };
        let pruned = store.prune_refresh_tokens(cutoff).await.unwrap();
        assert_eq!(pruned, backlog as u64 + 1);
        assert_eq!(store.prune_refresh_tokens(cutoff).await.unwrap(), 0);
        // The token at the cutoff is kept, with its sign-out.
        assert!(
            store
                .signed_out_sessions(cutoff)
                .await
                .unwrap()
                .iter()
                .any(|(_, at)| *at >= cutoff)
        );
        assert!(store.revoke_refresh_token(&before).await.unwrap().is_none());
        assert!(live_is_valid().await);
        // Everything but the live token is gone once the cutoff passes it.
        assert_eq!(store.prune_refresh_tokens(now).await.unwrap(), 1);
        assert!(live_is_valid().await);
    })
    .await;
}
