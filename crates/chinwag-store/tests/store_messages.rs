//! Messages: pagination, edits, deletes, threads, reactions and pins on
//! every backend.

use chinwag_protocol::Id;
use chinwag_protocol::model::Message;
use chinwag_store::testing::{community, each_backend, post, text_channel, user};
use chinwag_store::{Cursor, NewMessage, Store, StoreError};

fn ids(messages: &[Message]) -> Vec<Id> {
    messages.iter().map(|m| m.id).collect()
}

/// A channel with `n` messages; returns (channel id, author id, ids oldest first).
async fn channel_with(store: &Store, n: usize) -> (Id, Id, Vec<Id>) {
    let owner = user(store, "owner").await;
    let c = community(store, owner.id).await.community;
    let ch = text_channel(store, c.id, "general").await;
    let mut out = Vec::new();
    for i in 0..n {
        out.push(post(store, ch.id, owner.id, &format!("m{i}")).await.id);
    }
    (ch.id, owner.id, out)
}

#[tokio::test]
async fn history_pages_before_after_and_around() {
    each_backend(|store: Store| async move {
        let (ch, _, all) = channel_with(&store, 12).await;
        assert!(all.windows(2).all(|w| w[0] < w[1]), "ids grow with time");
        let newest_first: Vec<Id> = all.iter().rev().copied().collect();

        let latest = store.history(ch, Cursor::Latest, 5).await.unwrap();
        assert_eq!(ids(&latest), newest_first[..5]);
        assert_eq!(latest[0].content, "m11");
        let older = store
            .history(ch, Cursor::Before(latest[4].id), 5)
            .await
            .unwrap();
        assert_eq!(ids(&older), newest_first[5..10]);
        let oldest = store
            .history(ch, Cursor::Before(older[4].id), 5)
            .await
            .unwrap();
        assert_eq!(ids(&oldest), newest_first[10..]);

        let after = store.history(ch, Cursor::After(all[3]), 4).await.unwrap();
        assert_eq!(ids(&after), all[4..8], "after is oldest first");
        let after_end = store.history(ch, Cursor::After(all[11]), 4).await.unwrap();
        assert!(after_end.is_empty());

        let around = store.history(ch, Cursor::Around(all[6]), 5).await.unwrap();
        assert_eq!(ids(&around), vec![all[8], all[7], all[6], all[5], all[4]]);
        let around_one = store.history(ch, Cursor::Around(all[6]), 1).await.unwrap();
        assert_eq!(ids(&around_one), vec![all[6]]);
        let around_edge = store.history(ch, Cursor::Around(all[0]), 4).await.unwrap();
        assert_eq!(ids(&around_edge), vec![all[2], all[1], all[0]]);
        let everything = store.history(ch, Cursor::Latest, 100).await.unwrap();
        assert_eq!(ids(&everything), newest_first);

        for bad in [0, 101] {
            assert!(matches!(
                store.history(ch, Cursor::Latest, bad).await,
                Err(StoreError::Invalid(_))
            ));
        }
        assert!(matches!(
            store.history(Id(1), Cursor::Latest, 10).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn edits_bump_versions_and_deleted_messages_vanish() {
    each_backend(|store: Store| async move {
        let (ch, author, all) = channel_with(&store, 5).await;
        let other = user(&store, "other").await;
        let now = chinwag_store::id::now_ms();
        let edited = store
            .edit_message(all[2], "edited", &[other.id, other.id], now)
            .await
            .unwrap();
        assert_eq!(edited.content, "edited");
        assert_eq!(edited.mention_ids, vec![other.id]);
        assert_eq!(edited.edited_at, Some(now));
        assert_eq!(edited.version, 2);
        assert_eq!(edited.author.id, author);

        store.add_reaction(all[2], other.id, "👍").await.unwrap();
        let deleted = store.delete_message(all[2]).await.unwrap();
        assert_eq!(deleted.channel_id, ch);
        assert_eq!(deleted.version, 4, "edit, reaction, delete");
        assert_eq!(deleted.parent, None);
        assert!(matches!(
            store.message(all[2]).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_message(all[2]).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.edit_message(all[2], "again", &[], now).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.add_reaction(all[2], other.id, "👍").await,
            Err(StoreError::NotFound)
        ));
        for cursor in [
            Cursor::Latest,
            Cursor::Around(all[2]),
            Cursor::After(all[0]),
            Cursor::Before(all[4]),
        ] {
            let page = store.history(ch, cursor, 10).await.unwrap();
            assert!(!ids(&page).contains(&all[2]), "{cursor:?}");
            assert_eq!(
                page.len(),
                match cursor {
                    Cursor::Latest | Cursor::Around(_) => 4,
                    _ => 3,
                }
            );
        }
        assert!(matches!(
            store.message(Id(3)).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn thread_replies_count_on_the_parent() {
    each_backend(|store: Store| async move {
        let (ch, author, all) = channel_with(&store, 2).await;
        let parent = all[0];
        let reply = |content: &str| NewMessage {
            channel_id: ch,
            author_id: author,
            content: content.into(),
            mention_ids: vec![],
            thread_parent_id: Some(parent),
            nonce: Some("n-1".into()),
        };
        let first = store.create_message(reply("r1")).await.unwrap();
        assert_eq!(first.message.thread_parent_id, Some(parent));
        assert_eq!(first.message.nonce.as_deref(), Some("n-1"));
        let p = first.parent.unwrap();
        assert_eq!((p.message_id, p.reply_count, p.version), (parent, 1, 2));
        let second = store.create_message(reply("r2")).await.unwrap();
        assert_eq!(second.parent.unwrap().reply_count, 2);
        let parent_msg = store.message(parent).await.unwrap();
        assert_eq!((parent_msg.reply_count, parent_msg.version), (2, 3));

        // Replies stay out of the channel's history.
        let history = store.history(ch, Cursor::Latest, 10).await.unwrap();
        assert_eq!(ids(&history), vec![all[1], all[0]]);
        let thread = store
            .thread_replies(parent, Cursor::Latest, 10)
            .await
            .unwrap();
        assert_eq!(ids(&thread), vec![second.message.id, first.message.id]);
        let forward = store
            .thread_replies(parent, Cursor::After(Id(0)), 10)
            .await
            .unwrap();
        assert_eq!(ids(&forward), vec![first.message.id, second.message.id]);

        let deleted = store.delete_message(first.message.id).await.unwrap();
        assert_eq!(deleted.thread_parent_id, Some(parent));
        let p = deleted.parent.unwrap();
        assert_eq!((p.reply_count, p.version), (1, 4));

        // Threads don't nest; parents must exist in the same channel.
        let mut nested = reply("nested");
        nested.thread_parent_id = Some(second.message.id);
        assert!(matches!(
            store.create_message(nested).await,
            Err(StoreError::Invalid(_))
        ));
        let mut ghost = reply("ghost");
        ghost.thread_parent_id = Some(Id(5));
        assert!(matches!(
            store.create_message(ghost).await,
            Err(StoreError::NotFound)
        ));
        let mut wrong_channel = reply("elsewhere");
        wrong_channel.channel_id = store
            .open_dm(author, user(&store, "x").await.id)
            .await
            .unwrap()
            .0
            .id;
        assert!(matches!(
            store.create_message(wrong_channel).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.thread_replies(Id(5), Cursor::Latest, 10).await,
            Err(StoreError::NotFound)
        ));
        let mut unknown_channel = reply("nowhere");
        unknown_channel.thread_parent_id = None;
        unknown_channel.channel_id = Id(5);
        assert!(matches!(
            store.create_message(unknown_channel).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn reactions_are_idempotent_and_appear_in_history() {
    each_backend(|store: Store| async move {
        let (ch, author, all) = channel_with(&store, 1).await;
        let m = all[0];
        let other = user(&store, "other").await;
        let r = store.add_reaction(m, author, "🎉").await.unwrap();
        assert!(r.changed);
        assert_eq!((r.summary.count, r.version, r.channel_id), (1, 2, ch));
        let again = store.add_reaction(m, author, "🎉").await.unwrap();
        assert!(!again.changed);
        assert_eq!((again.summary.count, again.version), (1, 2));
        let r = store.add_reaction(m, other.id, "🎉").await.unwrap();
        assert_eq!(r.summary.user_ids, vec![author, other.id]);
        assert_eq!(r.version, 3);
        store
            .add_reaction(m, other.id, "custom:wave")
            .await
            .unwrap();

        let page = store.history(ch, Cursor::Latest, 10).await.unwrap();
        let reactions = &page[0].reactions;
        assert_eq!(reactions.len(), 2);
        assert_eq!((reactions[0].emoji.as_str(), reactions[0].count), ("🎉", 2));
        assert_eq!(
            (reactions[1].emoji.as_str(), reactions[1].count),
            ("custom:wave", 1)
        );
        assert_eq!(page[0].version, 4);

        let removed = store.remove_reaction(m, author, "🎉").await.unwrap();
        assert!(removed.changed);
        assert_eq!((removed.summary.count, removed.version), (1, 5));
        let noop = store.remove_reaction(m, author, "🎉").await.unwrap();
        assert!(!noop.changed);
        assert_eq!(noop.version, 5);
        let last = store.remove_reaction(m, other.id, "🎉").await.unwrap();
        assert_eq!(last.summary.count, 0);
        assert!(last.summary.user_ids.is_empty());
        assert!(matches!(
            store.add_reaction(m, author, "").await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.add_reaction(Id(8), author, "x").await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn pins_bump_versions_and_list_newest_first() {
    each_backend(|store: Store| async move {
        let (ch, _, all) = channel_with(&store, 3).await;
        let p = store.pin_message(all[0]).await.unwrap();
        assert!(p.message.pinned);
        assert_eq!((p.message.version, p.changed_to), (2, Some(2)));
        let same = store.pin_message(all[0]).await.unwrap();
        assert_eq!(
            (same.message.version, same.changed_to),
            (2, None),
            "pinning twice changes nothing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        store.pin_message(all[2]).await.unwrap();
        assert_eq!(
            ids(&store.pinned_messages(ch).await.unwrap()),
            vec![all[2], all[0]]
        );
        let unpinned = store.unpin_message(all[0]).await.unwrap();
        assert!(!unpinned.message.pinned);
        assert_eq!(
            (unpinned.message.version, unpinned.changed_to),
            (3, Some(3))
        );
        store.delete_message(all[2]).await.unwrap();
        assert!(store.pinned_messages(ch).await.unwrap().is_empty());
        assert!(matches!(
            store.pin_message(all[2]).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.pinned_messages(Id(2)).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}
