//! Reactions and pins: the cap on distinct emoji per message and the cap on
//! pins per channel hold under concurrent adds, and roles' undefined
//! permission bits are dropped on read, on every backend.

use std::sync::Arc;

use chinwag_protocol::permissions::ALL;
use chinwag_store::pins::MAX_PINS_PER_CHANNEL;
use chinwag_store::reactions::MAX_DISTINCT_EMOJI;
use chinwag_store::testing::{community, each_backend, post, text_channel, user};
use chinwag_store::{Store, StoreError};

#[tokio::test]
async fn concurrent_adds_never_pass_the_distinct_emoji_cap() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let c = community(&store, owner.id).await.community;
        let ch = text_channel(&store, c.id, "general").await;
        let message = post(&store, ch.id, owner.id, "react to me").await;
        for i in 0..MAX_DISTINCT_EMOJI - 1 {
            store
                .add_reaction(message.id, owner.id, &format!("e{i}"))
                .await
                .unwrap();
        }
        // One slot left; many new emoji race for it.
        let store = Arc::new(store);
        let racers: Vec<_> = (0..12)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .add_reaction(message.id, owner.id, &format!("race{i}"))
                        .await
                })
            })
            .collect();
        let mut added = 0;
        for racer in racers {
            match racer.await.unwrap() {
                Ok(update) => {
                    assert!(update.changed);
                    added += 1;
                }
                Err(StoreError::Limit(what)) => assert!(what.contains("20"), "{what}"),
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        assert_eq!(added, 1, "exactly one new emoji fits");
        let stored = store.message(message.id).await.unwrap();
        assert_eq!(stored.reactions.len(), MAX_DISTINCT_EMOJI);
        // A full message still takes reactions with an emoji it has, and
        // removing one frees a slot.
        let other = user(&store, "other").await;
        let again = store
            .add_reaction(message.id, other.id, "e0")
            .await
            .unwrap();
        assert_eq!(again.summary.count, 2);
        assert!(matches!(
            store.add_reaction(message.id, other.id, "new").await,
            Err(StoreError::Limit(_))
        ));
        store
            .remove_reaction(message.id, owner.id, "e1")
            .await
            .unwrap();
        store
            .add_reaction(message.id, other.id, "new")
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn concurrent_pins_never_pass_the_pin_cap() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        let c = community(&store, owner.id).await.community;
        let ch = text_channel(&store, c.id, "general").await;
        let mut messages = Vec::new();
        for i in 0..MAX_PINS_PER_CHANNEL + 12 {
            messages.push(post(&store, ch.id, owner.id, &format!("m{i}")).await.id);
        }
        let (pinned, racing) = messages.split_at(MAX_PINS_PER_CHANNEL as usize - 1);
        for &id in pinned {
            store.pin_message(id).await.unwrap();
        }
        // One slot left; twelve pins race for it.
        let store = Arc::new(store);
        let racers: Vec<_> = racing
            .iter()
            .map(|&id| {
                let store = store.clone();
                tokio::spawn(async move { store.pin_message(id).await })
            })
            .collect();
        let mut won = 0;
        for racer in racers {
            match racer.await.unwrap() {
                Ok(update) => {
                    assert!(update.changed_to.is_some() && update.message.pinned);
                    won += 1;
                }
                Err(StoreError::Limit(what)) => assert!(what.contains("250"), "{what}"),
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        assert_eq!(won, 1, "exactly one more pin fits");
        let listed = store.pinned_messages(ch.id).await.unwrap();
        assert_eq!(listed.len(), MAX_PINS_PER_CHANNEL as usize);
        // A refused pin left its message as it was.
        let refused = racing
            .iter()
            .find(|id| !listed.iter().any(|m| m.id == **id))
            .copied()
            .unwrap();
        let untouched = store.message(refused).await.unwrap();
        assert_eq!((untouched.pinned, untouched.version), (false, 1));
        // A full channel still re-pins what it has, and an unpin frees a slot.
        let again = store.pin_message(pinned[0]).await.unwrap();
        assert_eq!(again.changed_to, None);
        store.unpin_message(pinned[0]).await.unwrap();
        assert!(store.pin_message(refused).await.unwrap().message.pinned);
    })
    .await;
}

#[tokio::test]
async fn undefined_permission_bits_are_dropped_on_read() {
    each_backend(|store: Store| async move {
        let owner = user(&store, "owner").await;
        // The helper stores the Admin role with u64::MAX, as communities
        // made before the fix hold it.
        let created = community(&store, owner.id).await;
        let roles = store.community_roles(created.community.id).await.unwrap();
        assert!(roles.iter().all(|r| r.permissions & !ALL == 0), "{roles:?}");
        let admin = roles
            .iter()
            .find(|r| r.id != created.community.id)
            .expect("the Admin role");
        assert_eq!(admin.permissions, ALL);
    })
    .await;
}
