//! The chat services against every store backend, without a server: the
//! permission matrix, the rooms a user belongs in, and events reaching a
//! hub connection.

use std::time::Duration;

use chinwag_chat::{ChannelSpec, Chat, ChatError, CommunitySpec, InviteSpec, MessageSpec};
use chinwag_protocol::model::{ChannelKind, UserRole};
use chinwag_protocol::{ErrorCode, EventKind, Id};
use chinwag_realtime::engine::HistoryConfig;
use chinwag_realtime::{Hub, NodeId, OutboxConfig, Outgoing, RoomId};
use chinwag_store::Store;
use chinwag_store::testing::each_backend;

fn chat(store: Store) -> Chat {
    let hub = Hub::memory(
        NodeId::generate(Some("test")),
        OutboxConfig::default(),
        HistoryConfig::default(),
    );
    Chat::new(store, hub)
}

fn spec(name: &str, private: bool) -> ChannelSpec {
    ChannelSpec {
        kind: ChannelKind::Text,
        name: name.into(),
        topic: None,
        private,
    }
}

fn text(content: &str) -> MessageSpec {
    MessageSpec {
        content: content.into(),
        ..MessageSpec::default()
    }
}

#[tokio::test]
async fn permissions_and_rooms_follow_membership() {
    each_backend(|store| async move {
        let chat = chat(store);
        let owner = chat
            .register("owner", "password1", None)
            .await
            .unwrap()
            .user
            .id;
        let member = chat
            .register("member", "password1", None)
            .await
            .unwrap()
            .user
            .id;
        let outsider = chat
            .register("outsider", "password1", None)
            .await
            .unwrap()
            .user
            .id;
        let community = chat
            .create_community(
                owner,
                CommunitySpec {
                    name: "c".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let public = chat
            .create_channel(owner, community.id, spec("public", false))
            .await
            .unwrap();
        let private = chat
            .create_channel(owner, community.id, spec("private", true))
            .await
            .unwrap();
        let invite = chat
            .create_invite(owner, community.id, InviteSpec::default())
            .await
            .unwrap();
        chat.join_invite(member, &invite.code).await.unwrap();

        let rooms = |user: Id| {
            let chat = chat.clone();
            async move {
                let mut r: Vec<String> = chat
                    .rooms_for(user)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.to_string())
                    .collect();
                r.sort();
                r
            }
        };
        let c = RoomId::community(community.id).to_string();
        let p = RoomId::channel(public.id).to_string();
        let s = RoomId::channel(private.id).to_string();
        let mut all = vec![c.clone(), p.clone(), s.clone()];
        all.sort();
        assert_eq!(rooms(owner).await, all);
        let mut visible = vec![c.clone(), p.clone()];
        visible.sort();
        assert_eq!(rooms(member).await, visible);
        assert!(rooms(outsider).await.is_empty());

        chat.add_private_channel_member(owner, private.id, member)
            .await
            .unwrap();
        assert_eq!(rooms(member).await, all);
        chat.remove_private_channel_member(owner, private.id, member)
            .await
            .unwrap();
        assert_eq!(rooms(member).await, visible);

        let code = |e: ChatError| e.code();
        assert_eq!(
            code(
                chat.send_message(outsider, public.id, text("x"))
                    .await
                    .unwrap_err()
            ),
            ErrorCode::NotFound
        );
        assert_eq!(
            code(
                chat.send_message(member, private.id, text("x"))
                    .await
                    .unwrap_err()
            ),
            ErrorCode::NotFound
        );
        assert_eq!(
            code(
                chat.create_channel(member, community.id, spec("no", false))
                    .await
                    .unwrap_err()
            ),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(
                chat.send_message(member, public.id, text("  "))
                    .await
                    .unwrap_err()
            ),
            ErrorCode::BadRequest
        );
        let mine = chat
            .send_message(owner, public.id, text("hi <@5> <@5>"))
            .await
            .unwrap();
        assert_eq!(mine.mention_ids, vec![Id(5)]);
        assert_eq!(
            code(
                chat.edit_message(member, mine.id, "mine now")
                    .await
                    .unwrap_err()
            ),
            ErrorCode::Forbidden
        );
        // A manager may delete anyone's message; a member only their own.
        let theirs = chat
            .send_message(member, public.id, text("hello"))
            .await
            .unwrap();
        assert_eq!(
            code(chat.delete_message(member, mine.id).await.unwrap_err()),
            ErrorCode::Forbidden
        );
        chat.delete_message(owner, theirs.id).await.unwrap();
        assert_eq!(
            code(chat.login("owner", "wrong-password").await.unwrap_err()),
            ErrorCode::Unauthorized
        );
        assert_eq!(
            code(chat.login("ghost", "wrong-password").await.unwrap_err()),
            ErrorCode::Unauthorized
        );
    })
    .await;
}

#[tokio::test]
async fn events_reach_connections_in_the_room() {
    each_backend(|store| async move {
        let chat = chat(store);
        let owner = chat
            .register("owner", "password1", None)
            .await
            .unwrap()
            .user
            .id;
        let community = chat
            .create_community(
                owner,
                CommunitySpec {
                    name: "c".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let channel = chat
            .create_channel(owner, community.id, spec("general", false))
            .await
            .unwrap();
        // A connection that arrives later joins the rooms the policy names.
        let (conn, mut outbox) = chat.hub().register(owner, UserRole::User);
        for room in chat.rooms_for(owner).await.unwrap() {
            chat.hub().join(&conn, &room).await.unwrap();
        }
        let sent = chat
            .send_message(
                owner,
                channel.id,
                MessageSpec {
                    nonce: Some("n".into()),
                    ..text("hey")
                },
            )
            .await
            .unwrap();
        let frame = loop {
            match tokio::time::timeout(Duration::from_secs(5), outbox.recv())
                .await
                .unwrap()
            {
                Some(Outgoing::Event(frame)) => break frame,
                Some(_) => continue,
                None => panic!("outbox closed"),
            }
        };
        assert_eq!(frame.kind(), EventKind::NewMessage);
        assert_eq!(frame.room(), &RoomId::channel(channel.id));
        match frame.event() {
            chinwag_protocol::Event::NewMessage(m) => {
                assert_eq!(m.message.id, sent.id);
                assert_eq!(m.message.nonce.as_deref(), Some("n"));
            }
            other => panic!("unexpected {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn presence_rooms_picked_from_the_joined_rooms_match_the_lookup() {
    each_backend(|store| async move {
        let chat = chat(store);
        let register = |name: &'static str| {
            let chat = chat.clone();
            async move {
                chat.register(name, "password1", None)
                    .await
                    .unwrap()
                    .user
                    .id
            }
        };
        let (owner, friend) = (register("owner").await, register("friend").await);
        for name in ["one", "two"] {
            let community = chat
                .create_community(
                    owner,
                    CommunitySpec {
                        name: name.into(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            chat.create_channel(owner, community.id, spec("general", false))
                .await
                .unwrap();
            chat.create_channel(owner, community.id, spec("staff", true))
                .await
                .unwrap();
        }
        // Straight in the store: the two share no community, and the DM
        // rule is not what this test is about.
        let (dm, _) = chat.store().open_dm(owner, friend).await.unwrap();

        let sorted = |rooms: Vec<RoomId>| {
            let mut names: Vec<String> = rooms.iter().map(RoomId::to_string).collect();
            names.sort();
            names
        };
        let joined = chat.rooms_for(owner).await.unwrap();
        let picked = sorted(Chat::presence_rooms_among(&joined));
        assert_eq!(picked, sorted(chat.presence_rooms(owner).await.unwrap()));
        // Two communities and the DM; the four channels are not presence rooms.
        assert_eq!(picked.len(), 3, "{picked:?}");
        assert!(picked.contains(&RoomId::dm(dm.id).to_string()));
        assert_eq!(joined.len(), 7, "{joined:?}");
    })
    .await;
}
