//! Read states and notifications on every backend.

use chinwag_protocol::Id;
use chinwag_protocol::model::NotificationKind;
use chinwag_store::testing::{community, each_backend, post, text_channel, user};
use chinwag_store::{NewMessage, NewNotification, Store, StoreError};

#[tokio::test]
async fn read_state_counts_unread_and_mentions() {
    each_backend(|store: Store| async move {
        let me = user(&store, "me").await;
        let them = user(&store, "them").await;
        let c = community(&store, me.id).await.community;
        store.add_member(c.id, them.id).await.unwrap();
        let ch = text_channel(&store, c.id, "general").await;

        let fresh = store.read_state(me.id, ch.id).await.unwrap();
        assert_eq!(
            (fresh.unread_count, fresh.mention_count, fresh.version),
            (0, 0, 0)
        );

        let first = post(&store, ch.id, them.id, "hello").await;
        post(&store, ch.id, me.id, "my own message").await;
        let mention = |content: &str| NewMessage {
            channel_id: ch.id,
            author_id: them.id,
            content: content.into(),
            mention_ids: vec![me.id],
            thread_parent_id: None,
            nonce: None,
        };
        let pinged = store
            .create_message(mention("hey <@me>"))
            .await
            .unwrap()
            .message;
        store.create_message(mention("again")).await.unwrap();
        post(&store, ch.id, them.id, "plain").await;
        // A thread reply is not in the channel timeline.
        store
            .create_message(NewMessage {
                thread_parent_id: Some(first.id),
                ..mention("in thread")
            })
            .await
            .unwrap();

        let before = store.read_state(me.id, ch.id).await.unwrap();
        assert_eq!((before.unread_count, before.mention_count), (4, 2));
        assert_eq!(before.last_read_message_id, None);

        let rs = store.mark_read(me.id, ch.id, first.id).await.unwrap();
        assert_eq!(rs.last_read_message_id, Some(first.id));
        assert_eq!((rs.unread_count, rs.mention_count, rs.version), (3, 2, 1));
        let rs = store.mark_read(me.id, ch.id, pinged.id).await.unwrap();
        assert_eq!((rs.unread_count, rs.mention_count, rs.version), (2, 1, 2));
        // Deleting an unread mention lowers both counters.
        let latest = store
            .history(ch.id, chinwag_store::Cursor::Latest, 2)
            .await
            .unwrap();
        store.delete_message(latest[1].id).await.unwrap();
        let rs = store.read_state(me.id, ch.id).await.unwrap();
        assert_eq!((rs.unread_count, rs.mention_count, rs.version), (1, 0, 2));
        let all = store.read_states(me.id).await.unwrap();
        assert_eq!(all, vec![rs]);

        let other_ch = text_channel(&store, c.id, "other").await;
        assert!(matches!(
            store.mark_read(me.id, other_ch.id, first.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.read_state(me.id, Id(4)).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn notifications_page_filter_and_mark_read() {
    each_backend(|store: Store| async move {
        let me = user(&store, "me").await;
        let them = user(&store, "them").await;
        let c = community(&store, me.id).await.community;
        let ch = text_channel(&store, c.id, "general").await;
        let msg = post(&store, ch.id, them.id, "hi").await;
        let mut created = Vec::new();
        for i in 0..5 {
            let n = store
                .create_notification(NewNotification {
                    user_id: me.id,
                    kind: if i % 2 == 0 {
                        NotificationKind::Mention
                    } else {
                        NotificationKind::Reply
                    },
                    actor_id: them.id,
                    channel_id: ch.id,
                    community_id: Some(c.id),
                    message_id: msg.id,
                    excerpt: "x".repeat(500),
                })
                .await
                .unwrap();
            assert!(!n.read);
            assert_eq!(
                n.excerpt.chars().count(),
                chinwag_store::notifications::MAX_EXCERPT_CHARS
            );
            created.push(n);
        }
        assert_eq!(created[1].kind, NotificationKind::Reply);
        let page = store.notifications(me.id, None, 3, false).await.unwrap();
        assert_eq!(
            page.iter().map(|n| n.id).collect::<Vec<_>>(),
            vec![created[4].id, created[3].id, created[2].id]
        );
        let next = store
            .notifications(me.id, Some(page[2].id), 3, false)
            .await
            .unwrap();
        assert_eq!(next.len(), 2);

        // Someone else's notification is never touched.
        let theirs = store
            .create_notification(NewNotification {
                user_id: them.id,
                kind: NotificationKind::Dm,
                actor_id: me.id,
                channel_id: ch.id,
                community_id: None,
                message_id: msg.id,
                excerpt: "x".into(),
            })
            .await
            .unwrap();
        let changed = store
            .mark_notifications_read(me.id, &[created[0].id, created[3].id, theirs.id, Id(1)])
            .await
            .unwrap();
        assert_eq!(changed, vec![created[0].id, created[3].id]);
        let again = store
            .mark_notifications_read(me.id, &[created[0].id])
            .await
            .unwrap();
        assert!(again.is_empty());
        let unread = store.notifications(me.id, None, 10, true).await.unwrap();
        assert_eq!(unread.len(), 3);
        assert!(unread.iter().all(|n| !n.read));
        assert_eq!(store.unread_notification_count(me.id).await.unwrap(), 3);
        assert_eq!(store.unread_notification_count(them.id).await.unwrap(), 1);
    })
    .await;
}
