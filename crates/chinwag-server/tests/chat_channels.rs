//! Community and channel structure over real sockets: update, reorder,
//! privacy changes and deletion emit their invalidate events to
//! `community:{id}` and move room membership at once; thread replies.
//! Runs on SQLite and, when configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, drain, each_backend, id, next_event};
use serde_json::json;

#[tokio::test]
async fn structure_changes_are_emitted_and_move_membership() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let (alice, alice_token) = api.register("alice").await;
        let (bob, bob_token) = api.register("bob").await;
        let community = api.community(&alice_token, "Org").await;
        let croom = format!("community:{community}");
        let first = api.channel(&alice_token, community, "first", false).await;
        let second = api.channel(&alice_token, community, "second", false).await;
        let code = api.invite(&alice_token, community).await;
        api.join(&bob_token, &code).await;
        let mut bob_ws = server.client(bob).await;
        let rooms = bob_ws.ready["rooms"].to_string();
        assert!(
            rooms.contains(&format!("channel:{first}"))
                && rooms.contains(&format!("channel:{second}"))
        );

        let renamed = api
            .ok(
                200,
                "PATCH",
                &format!("/communities/{community}"),
                &alice_token,
                Some(json!({"name": "Org 2", "description": "about"})),
            )
            .await;
        assert_eq!(renamed["version"], 2);
        let event = next_event(&mut bob_ws, &croom, "COMMUNITY_UPDATED").await;
        assert_eq!(id(&event["data"]["community_id"]), community);
        let cleared = api
            .ok(
                200,
                "PATCH",
                &format!("/communities/{community}"),
                &alice_token,
                Some(json!({"description": null})),
            )
            .await;
        assert!(cleared["description"].is_null());
        assert_eq!(cleared["name"], "Org 2");

        let ordered = api
            .ok(
                200,
                "PUT",
                &format!("/communities/{community}/channels/order"),
                &alice_token,
                Some(json!({"channel_ids": [second.to_string(), first.to_string()]})),
            )
            .await;
        assert_eq!(id(&ordered[0]["id"]), second);
        next_event(&mut bob_ws, &croom, "CHANNELS_REORDERED").await;
        let listed = api
            .ok(
                200,
                "GET",
                &format!("/communities/{community}/channels"),
                &bob_token,
                None,
            )
            .await;
        assert_eq!(id(&listed[0]["id"]), second);

        // Making a channel private removes bob from it at once.
        let private = api
            .ok(
                200,
                "PATCH",
                &format!("/channels/{first}"),
                &alice_token,
                Some(json!({"private": true, "topic": "hush"})),
            )
            .await;
        assert_eq!(private["private"], true);
        let left = bob_ws.recv_op("room_left").await;
        assert_eq!(left["room"], format!("channel:{first}"));
        assert_eq!(left["reason"], "access_revoked");
        next_event(&mut bob_ws, &croom, "CHANNEL_UPDATED").await;
        api.send(&alice_token, first, "private now").await;
        assert!(
            drain(&mut bob_ws)
                .await
                .iter()
                .all(|e| e["room"] != format!("channel:{first}"))
        );
        // And public again brings him back.
        api.ok(
            200,
            "PATCH",
            &format!("/channels/{first}"),
            &alice_token,
            Some(json!({"private": false})),
        )
        .await;
        let joined = bob_ws.recv_op("room_joined").await;
        assert_eq!(joined["room"], format!("channel:{first}"));

        // Deleting a channel tells the community and empties the room.
        let gone = api
            .call(
                "DELETE",
                &format!("/channels/{second}"),
                Some(&alice_token),
                None,
            )
            .await;
        assert_eq!(gone.status, 204);
        let (mut left, mut deleted) = (None, None);
        while left.is_none() || deleted.is_none() {
            let frame = bob_ws.recv().await;
            if frame["op"] == "room_left" {
                left = Some(frame);
            } else if frame["type"] == "CHANNEL_DELETED" {
                deleted = Some(frame);
            }
        }
        assert_eq!(left.unwrap()["room"], format!("channel:{second}"));
        assert_eq!(id(&deleted.unwrap()["data"]["channel_id"]), second);
        let missing = api
            .call(
                "GET",
                &format!("/channels/{second}"),
                Some(&bob_token),
                None,
            )
            .await;
        assert_eq!(missing.status, 404);

        let members = api
            .ok(
                200,
                "GET",
                &format!("/communities/{community}/members?limit=10"),
                &bob_token,
                None,
            )
            .await;
        let ids: Vec<i64> = members
            .as_array()
            .unwrap()
            .iter()
            .map(|m| id(&m["user"]["id"]))
            .collect();
        let mut expected = vec![alice, bob];
        expected.sort();
        assert_eq!(ids, expected);
    })
    .await;
}

#[tokio::test]
async fn thread_replies_update_the_parent() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let (alice, alice_token) = api.register("alice").await;
        let community = api.community(&alice_token, "Threads").await;
        let channel = api.channel(&alice_token, community, "general", false).await;
        let room = format!("channel:{channel}");
        let mut alice_ws = server.client(alice).await;
        let parent = api.send(&alice_token, channel, "parent").await;
        next_event(&mut alice_ws, &room, "NEW_MESSAGE").await;

        let reply = api
            .ok(
                201,
                "POST",
                &format!("/channels/{channel}/messages"),
                &alice_token,
                Some(json!({"content": "a reply", "thread_parent_id": parent["id"]})),
            )
            .await;
        assert_eq!(reply["thread_parent_id"], parent["id"]);
        let event = next_event(&mut alice_ws, &room, "NEW_THREAD_REPLY").await;
        assert_eq!(event["data"]["message"]["id"], reply["id"]);
        let count = next_event(&mut alice_ws, &room, "THREAD_REPLY_COUNT_UPDATED").await;
        assert_eq!(count["data"]["reply_count"], 1);
        assert_eq!(count["data"]["version"], 2);
        // Channel history holds top-level messages only.
        let history = api.history(&alice_token, channel, "").await;
        assert_eq!(history.len(), 1);
        assert_eq!(history[0]["reply_count"], 1);

        let gone = api
            .call(
                "DELETE",
                &format!("/messages/{}", id(&reply["id"])),
                Some(&alice_token),
                None,
            )
            .await;
        assert_eq!(gone.status, 204);
        next_event(&mut alice_ws, &room, "DELETE_THREAD_REPLY").await;
        let count = next_event(&mut alice_ws, &room, "THREAD_REPLY_COUNT_UPDATED").await;
        assert_eq!(count["data"]["reply_count"], 0);

        let orphan = api
            .call(
                "POST",
                &format!("/channels/{channel}/messages"),
                Some(&alice_token),
                Some(json!({"content": "lost", "thread_parent_id": "12345"})),
            )
            .await;
        assert_eq!(orphan.status, 404);
    })
    .await;
}
