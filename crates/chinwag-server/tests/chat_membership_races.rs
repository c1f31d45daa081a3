//! Membership changes racing each other in one community leave every
//! connection in exactly the rooms the stored state allows: a kick racing
//! new channels takes the user out of them too, a join racing a ban or the
//! community's deletion does not put anyone back, and deleting a community
//! ends its voice states with events. Each race runs several rounds; the
//! probe is `typing`, refused unless the connection is in the room. Runs
//! on SQLite and, when configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::support::TestServer;
use chat_support::{Api, each_backend, id, next_event, probe_room};
use serde_json::json;

/// A community owned by `owner` with an invite code.
async fn community(api: &Api, owner: &str, name: &str) -> (i64, String) {
    let community = api.community(owner, name).await;
    (community, api.invite(owner, community).await)
}

#[tokio::test]
async fn a_kick_racing_new_channels_leaves_them_too() {
    each_backend(|server: TestServer| async move {
        let api = Api { addr: server.addr };
        let (_, owner) = api.register("owner").await;
        let (kid, kicked) = api.register("kicked").await;
        for round in 0..4 {
            let (community, code) = community(&api, &owner, &format!("c{round}")).await;
            api.join(&kicked, &code).await;
            let mut ws = server.client(kid).await;
            let (api, owner) = (&api, &owner);
            let creates = (0..4).map(|n| async move {
                let path = format!("/communities/{community}/channels");
                let body = json!({"name": format!("new-{n}")});
                api.call("POST", &path, Some(owner), Some(body)).await
            });
            let kick_path = format!("/communities/{community}/members/{kid}");
            let kick = api.call("DELETE", &kick_path, Some(owner), None);
            let (created, kick) = tokio::join!(futures_util::future::join_all(creates), kick);
            assert_eq!(kick.status, 204, "{:?}", kick.body);
            for reply in created {
                assert_eq!(reply.status, 201, "{:?}", reply.body);
                let channel = id(&reply.body["id"]);
                assert!(
                    !probe_room(&mut ws, channel, |_| {}).await,
                    "round {round}: still in {channel}"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_join_racing_a_ban_does_not_put_the_banned_user_back() {
    each_backend(|server: TestServer| async move {
        let api = Api { addr: server.addr };
        let (_, owner) = api.register("owner").await;
        let (jid, joiner) = api.register("joiner").await;
        for round in 0..6 {
            let (community, code) = community(&api, &owner, &format!("c{round}")).await;
            let channel = api.channel(&owner, community, "general", false).await;
            let mut ws = server.client(jid).await;
            let join_path = format!("/invites/{code}/join");
            let join = api.call("POST", &join_path, Some(&joiner), None);
            let ban_path = format!("/communities/{community}/bans/{jid}");
            let ban = api.call("PUT", &ban_path, Some(&owner), None);
            let (_, ban) = tokio::join!(join, ban);
            assert_eq!(ban.status, 200, "{:?}", ban.body);
            assert!(
                !probe_room(&mut ws, channel, |_| {}).await,
                "round {round}: banned, still in the channel"
            );
            let members = api
                .ok(
                    200,
                    "GET",
                    &format!("/communities/{community}/members"),
                    &owner,
                    None,
                )
                .await;
            assert_eq!(
                members.as_array().unwrap().len(),
                1,
                "round {round}: {members}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn joins_racing_a_community_delete_leave_nobody_in_its_rooms() {
    each_backend(|server: TestServer| async move {
        let api = Api { addr: server.addr };
        let (_, owner) = api.register("owner").await;
        let mut joiners = Vec::new();
        for n in 0..4 {
            joiners.push(api.register(&format!("joiner{n}")).await);
        }
        for round in 0..3 {
            let (community, code) = community(&api, &owner, &format!("c{round}")).await;
            let channel = api.channel(&owner, community, "general", false).await;
            let mut sockets = Vec::new();
            for (uid, _) in &joiners {
                sockets.push(server.client(*uid).await);
            }
            let join_path = format!("/invites/{code}/join");
            let joins = joiners
                .iter()
                .map(|(_, token)| api.call("POST", &join_path, Some(token), None));
            let delete_path = format!("/communities/{community}");
            let delete = api.call("DELETE", &delete_path, Some(&owner), None);
            let (joined, delete) = tokio::join!(futures_util::future::join_all(joins), delete);
            assert_eq!(delete.status, 204, "{:?}", delete.body);
            // Each join came before the delete, or finds nothing to join.
            for reply in joined {
                assert!([200, 404].contains(&reply.status), "{:?}", reply.body);
            }
            for ws in &mut sockets {
                assert!(
                    !probe_room(ws, channel, |_| {}).await,
                    "round {round}: in a deleted channel"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn deleting_a_community_ends_its_voice_states_with_events() {
    each_backend(|server: TestServer| async move {
        let api = Api { addr: server.addr };
        let (_, owner) = api.register("owner").await;
        let (mid, member) = api.register("member").await;
        let (community, code) = community(&api, &owner, "c").await;
        api.join(&member, &code).await;
        let lounge = id(&api
            .ok(
                201,
                "POST",
                &format!("/communities/{community}/channels"),
                &owner,
                Some(json!({"name": "lounge", "kind": "voice"})),
            )
            .await["id"]);
        let mut ws = server.client(mid).await;
        let joined = api
            .ok(
                200,
                "PUT",
                &format!("/channels/{lounge}/voice"),
                &member,
                None,
            )
            .await;
        api.ok(
            204,
            "DELETE",
            &format!("/communities/{community}"),
            &owner,
            None,
        )
        .await;
        let left = next_event(
            &mut ws,
            &format!("channel:{lounge}"),
            "VOICE_CHANNEL_USER_LEFT",
        )
        .await;
        assert_eq!(id(&left["data"]["state"]["user_id"]), mid);
        assert!(
            left["data"]["state"]["version"].as_i64() > joined["version"].as_i64(),
            "{left}"
        );
        next_event(
            &mut ws,
            &format!("community:{community}"),
            "COMMUNITY_DELETED",
        )
        .await;
        let me = api
            .call(
                "PATCH",
                "/users/@me/voice",
                Some(&member),
                Some(json!({"muted": true})),
            )
            .await;
        assert_eq!(me.status, 404, "{:?}", me.body);
    })
    .await;
}
