//! The caps on how many communities a user is in, and on the channels and
//! roles of one community: the one past each is `CONFLICT`, and removing
//! one makes room again. Runs on every backend.

use chinwag_protocol::model::ChannelKind;
use chinwag_store::testing::{community, each_backend, text_channel, user};
use chinwag_store::{NewInvite, NewRole};

use crate::channels::{ChannelSpec, MAX_CHANNELS_PER_COMMUNITY};
use crate::chat::Chat;
use crate::communities::{CommunitySpec, MAX_COMMUNITIES_PER_USER};
use crate::error::assert_conflict as conflict;
use crate::roles::{MAX_ROLES_PER_COMMUNITY, RoleSpec};

#[tokio::test]
async fn a_user_is_in_at_most_max_communities() {
    each_backend(|store| async move {
        let chat = Chat::on_memory_hub(store.clone());
        let owner = user(&store, "owner").await.id;
        let joiner = user(&store, "joiner").await.id;
        let elsewhere = community(&store, joiner).await.community.id;
        let code = store
            .create_invite(NewInvite {
                community_id: elsewhere,
                creator_id: joiner,
                expires_at: None,
                max_uses: None,
            })
            .await
            .unwrap()
            .code;
        for _ in 1..MAX_COMMUNITIES_PER_USER {
            community(&store, owner).await;
        }
        let spec = || CommunitySpec {
            name: "one more".into(),
            ..Default::default()
        };
        let last = chat.create_community(owner, spec()).await.unwrap();
        conflict(chat.create_community(owner, spec()).await);
        // Joining counts too.
        conflict(chat.join_invite(owner, &code).await);
        chat.delete_community(owner, last.id).await.unwrap();
        chat.join_invite(owner, &code).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_community_holds_at_most_max_channels_and_roles() {
    each_backend(|store| async move {
        let chat = Chat::on_memory_hub(store.clone());
        let owner = user(&store, "owner").await.id;
        let cid = community(&store, owner).await.community.id;
        let held = store.community_channels(cid).await.unwrap().len();
        for n in held + 1..MAX_CHANNELS_PER_COMMUNITY {
            text_channel(&store, cid, &format!("c{n}")).await;
        }
        let spec = || ChannelSpec {
            name: "last".into(),
            kind: ChannelKind::Text,
            topic: None,
            private: false,
        };
        let last = chat.create_channel(owner, cid, spec()).await.unwrap();
        conflict(chat.create_channel(owner, cid, spec()).await);
        chat.delete_channel(owner, last.id).await.unwrap();
        chat.create_channel(owner, cid, spec()).await.unwrap();

        let held = store.community_roles(cid).await.unwrap().len();
        for n in held + 1..MAX_ROLES_PER_COMMUNITY {
            store
                .create_role(NewRole {
                    community_id: cid,
                    name: format!("r{n}"),
                    permissions: 0,
                    position: 1,
                    color: None,
                })
                .await
                .unwrap();
        }
        let spec = || RoleSpec {
            name: "last".into(),
            ..Default::default()
        };
        chat.create_role(owner, cid, spec()).await.unwrap();
        conflict(chat.create_role(owner, cid, spec()).await);
    })
    .await;
}
