//! A remembered send check never outlives a change that affects it, on
//! this node or another.

use chinwag_protocol::Id;
use chinwag_protocol::permissions::{SEND_MESSAGES, VIEW_CHANNEL};
use chinwag_store::testing::{community, each_backend, each_backend_pair, text_channel, user};
use chinwag_store::{OverrideTarget, PermissionOverride, ProfileUpdate, RoleUpdate, Store};

use crate::chat::Chat;
use crate::error::ChatError;
use crate::messages::MessageSpec;

fn text(content: &str) -> MessageSpec {
    MessageSpec {
        content: content.into(),
        ..MessageSpec::default()
    }
}

/// A community where everyone may send, with a text channel and a second
/// member; returns (owner, member, community, channel).
async fn guild(store: &Store) -> (Id, Id, Id, Id) {
    let owner = user(store, "owner").await.id;
    let member = user(store, "member").await.id;
    let created = community(store, owner).await;
    let cid = created.community.id;
    let everyone = RoleUpdate {
        permissions: Some(VIEW_CHANNEL | SEND_MESSAGES),
        ..RoleUpdate::default()
    };
    store
        .update_role(created.everyone_role.id, everyone)
        .await
        .unwrap();
    let channel = text_channel(store, cid, "general").await.id;
    store.add_member(cid, member).await.unwrap();
    (owner, member, cid, channel)
}

#[tokio::test]
async fn a_remembered_check_gives_way_to_every_change() {
    each_backend(|store| async move {
        let chat = Chat::on_memory_hub(store.clone());
        let (_, member, cid, channel) = guild(&store).await;
        chat.send_message(member, channel, text("one"))
            .await
            .unwrap();
        assert_eq!(chat.send_access.len(), 1, "the check is remembered");
        chat.send_message(member, channel, text("two"))
            .await
            .unwrap();
        assert!(chat.send_access.get(member, channel).is_some());

        let deny = PermissionOverride {
            channel_id: channel,
            target: OverrideTarget::User(member),
            allow: 0,
            deny: SEND_MESSAGES,
        };
        store.set_override(deny).await.unwrap();
        let refused = chat.send_message(member, channel, text("denied")).await;
        assert!(
            matches!(refused, Err(ChatError::Forbidden(_))),
            "{refused:?}"
        );
        assert_eq!(chat.send_access.len(), 0, "a refusal is not remembered");
        store
            .delete_override(channel, OverrideTarget::User(member))
            .await
            .unwrap();
        chat.send_message(member, channel, text("allowed"))
            .await
            .unwrap();

        let until = chinwag_store::id::now_ms() + 60_000;
        store.set_timeout(cid, member, Some(until)).await.unwrap();
        let timed_out = chat.send_message(member, channel, text("quiet")).await;
        assert!(
            matches!(timed_out, Err(ChatError::TimedOut(t)) if t == until),
            "{timed_out:?}"
        );
        chat.send_message(member, channel, text("quiet"))
            .await
            .unwrap_err();
        store.set_timeout(cid, member, None).await.unwrap();
        chat.send_message(member, channel, text("free"))
            .await
            .unwrap();

        let update = ProfileUpdate {
            display_name: Some("Renamed".into()),
            ..ProfileUpdate::default()
        };
        store.update_profile(member, update).await.unwrap();
        let message = chat
            .send_message(member, channel, text("new name"))
            .await
            .unwrap();
        assert_eq!(message.author.display_name, "Renamed");

        store.remove_member(cid, member).await.unwrap();
        let gone = chat.send_message(member, channel, text("kicked")).await;
        assert!(
            matches!(gone, Err(ChatError::NotFound("channel"))),
            "{gone:?}"
        );
        let stored = store
            .history(channel, chinwag_store::Cursor::Latest, 50)
            .await
            .unwrap();
        let contents: Vec<&str> = stored.iter().rev().map(|m| m.content.as_str()).collect();
        assert_eq!(contents, ["one", "two", "allowed", "free", "new name"]);
    })
    .await;
}

#[tokio::test]
async fn a_change_on_another_node_stops_a_remembered_send() {
    each_backend_pair(|here, there| async move {
        let chat = Chat::on_memory_hub(here.clone());
        let (_, member, cid, channel) = guild(&here).await;
        chat.send_message(member, channel, text("one"))
            .await
            .unwrap();
        chat.send_message(member, channel, text("two"))
            .await
            .unwrap();
        assert!(chat.send_access.get(member, channel).is_some());

        there.remove_member(cid, member).await.unwrap();
        let gone = chat.send_message(member, channel, text("kicked")).await;
        assert!(
            matches!(gone, Err(ChatError::NotFound("channel"))),
            "{gone:?}"
        );
        let stored = there
            .history(channel, chinwag_store::Cursor::Latest, 50)
            .await
            .unwrap();
        assert_eq!(stored.len(), 2, "nothing was written after the kick");
    })
    .await;
}
