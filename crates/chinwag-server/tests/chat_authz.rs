//! Chat authorization over real sockets: non-members can neither read,
//! send nor receive; private channel access is granted and revoked live;
//! only managers change structure. Runs on SQLite and, when configured,
//! PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, drain, each_backend, id, next_event};
use serde_json::json;

#[tokio::test]
async fn a_non_member_cannot_read_send_or_receive() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let (alice, alice_token) = api.register("alice").await;
        let (carol, carol_token) = api.register("carol").await;
        let community = api.community(&alice_token, "Private club").await;
        let channel = api.channel(&alice_token, community, "general", false).await;
        let mut alice_ws = server.client(alice).await;
        let mut carol_ws = server.client(carol).await;
        let rooms: Vec<String> = carol_ws.ready["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["room"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            rooms,
            vec![format!("user:{carol}")],
            "carol joins only her own room"
        );

        for (method, path, body) in [
            ("GET", format!("/communities/{community}"), None),
            ("GET", format!("/communities/{community}/channels"), None),
            ("GET", format!("/communities/{community}/members"), None),
            ("GET", format!("/channels/{channel}"), None),
            ("GET", format!("/channels/{channel}/messages"), None),
            (
                "POST",
                format!("/channels/{channel}/messages"),
                Some(json!({"content": "let me in"})),
            ),
            (
                "POST",
                format!("/communities/{community}/invites"),
                Some(json!({})),
            ),
            (
                "POST",
                format!("/communities/{community}/channels"),
                Some(json!({"name": "x"})),
            ),
            ("DELETE", format!("/communities/{community}"), None),
        ] {
            let reply = api.call(method, &path, Some(&carol_token), body).await;
            assert_eq!(reply.status, 404, "{method} {path}: {:?}", reply.body);
            assert_eq!(reply.code(), "NOT_FOUND");
        }

        // The WebSocket path is refused the same way.
        carol_ws
            .send(
                json!({"op": "send_message", "channel_id": channel.to_string(),
                         "content": "sneaky", "nonce": "c1"}),
            )
            .await;
        let refused = carol_ws.recv_op("error").await;
        assert_eq!(refused["code"], "NOT_FOUND");
        assert_eq!(refused["nonce"], "c1");

        // Alice's messages never reach carol, and nothing carol tried was stored.
        let sent = api.send(&alice_token, channel, "members only").await;
        let event = next_event(&mut alice_ws, &format!("channel:{channel}"), "NEW_MESSAGE").await;
        assert_eq!(event["data"]["message"]["id"], sent["id"]);
        let seen = drain(&mut carol_ws).await;
        assert!(
            seen.iter().all(|e| e["room"] == format!("user:{carol}")),
            "carol received {seen:?}"
        );
        let history = api.history(&alice_token, channel, "").await;
        assert_eq!(history.len(), 1);
        assert_eq!(history[0]["content"], "members only");

        // A member who is not a manager cannot change structure.
        let (bob, bob_token) = api.register("bob").await;
        let code = api.invite(&alice_token, community).await;
        api.join(&bob_token, &code).await;
        for (method, path, body) in [
            (
                "POST",
                format!("/communities/{community}/channels"),
                Some(json!({"name": "mine"})),
            ),
            (
                "POST",
                format!("/communities/{community}/invites"),
                Some(json!({})),
            ),
            (
                "PATCH",
                format!("/communities/{community}"),
                Some(json!({"name": "taken"})),
            ),
            ("DELETE", format!("/communities/{community}"), None),
            (
                "PATCH",
                format!("/channels/{channel}"),
                Some(json!({"name": "renamed"})),
            ),
            ("DELETE", format!("/channels/{channel}"), None),
        ] {
            let reply = api.call(method, &path, Some(&bob_token), body).await;
            assert_eq!(reply.status, 403, "{method} {path}: {:?}", reply.body);
            assert_eq!(reply.code(), "FORBIDDEN");
        }
        let community_now = api
            .ok(
                200,
                "GET",
                &format!("/communities/{community}"),
                &bob_token,
                None,
            )
            .await;
        assert_eq!(community_now["name"], "Private club");
        let _ = bob;
    })
    .await;
}

#[tokio::test]
async fn private_channel_access_is_granted_and_revoked_live() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let (alice, alice_token) = api.register("alice").await;
        let (bob, bob_token) = api.register("bob").await;
        let community = api.community(&alice_token, "Team").await;
        let code = api.invite(&alice_token, community).await;
        api.join(&bob_token, &code).await;
        let mut alice_ws = server.client(alice).await;
        let mut bob_ws = server.client(bob).await;

        let secret = api.channel(&alice_token, community, "secret", true).await;
        let room = format!("channel:{secret}");
        // Bob does not see it, and is not in its room.
        let listed = api
            .ok(
                200,
                "GET",
                &format!("/communities/{community}/channels"),
                &bob_token,
                None,
            )
            .await;
        assert!(listed.as_array().unwrap().is_empty(), "{listed}");
        let hidden = api
            .call(
                "GET",
                &format!("/channels/{secret}/messages"),
                Some(&bob_token),
                None,
            )
            .await;
        assert_eq!(hidden.status, 404);
        api.send(&alice_token, secret, "before bob").await;
        next_event(&mut alice_ws, &room, "NEW_MESSAGE").await;
        assert!(drain(&mut bob_ws).await.iter().all(|e| e["room"] != room));

        // Granting access joins bob's open stream at once.
        let added = api
            .call(
                "PUT",
                &format!("/channels/{secret}/members/{bob}"),
                Some(&alice_token),
                None,
            )
            .await;
        assert_eq!(added.status, 204, "{:?}", added.body);
        let joined = bob_ws.recv_op("room_joined").await;
        assert_eq!(joined["room"], room);
        api.send(&alice_token, secret, "welcome bob").await;
        let event = next_event(&mut bob_ws, &room, "NEW_MESSAGE").await;
        assert_eq!(event["data"]["message"]["content"], "welcome bob");
        assert_eq!(api.history(&bob_token, secret, "").await.len(), 2);
        let members = api
            .ok(
                200,
                "GET",
                &format!("/channels/{secret}/members"),
                &alice_token,
                None,
            )
            .await;
        assert_eq!(members["user_ids"], json!([bob.to_string()]));

        // Revoking it removes him at once: the very next message is not his.
        let removed = api
            .call(
                "DELETE",
                &format!("/channels/{secret}/members/{bob}"),
                Some(&alice_token),
                None,
            )
            .await;
        assert_eq!(removed.status, 204);
        api.send(&alice_token, secret, "bob is gone").await;
        let left = bob_ws.recv_op("room_left").await;
        assert_eq!(left["room"], room);
        assert_eq!(left["reason"], "access_revoked");
        let after = drain(&mut bob_ws).await;
        assert!(
            after.iter().all(|e| e["room"] != room),
            "bob still got {after:?}"
        );
        let event = next_event(&mut alice_ws, &room, "NEW_MESSAGE").await;
        assert_eq!(event["data"]["message"]["content"], "welcome bob");
        let event = next_event(&mut alice_ws, &room, "NEW_MESSAGE").await;
        assert_eq!(event["data"]["message"]["content"], "bob is gone");
        for (method, body) in [("GET", None), ("POST", Some(json!({"content": "hello?"})))] {
            let reply = api
                .call(
                    method,
                    &format!("/channels/{secret}/messages"),
                    Some(&bob_token),
                    body,
                )
                .await;
            assert_eq!(reply.status, 404, "{method}: {:?}", reply.body);
        }

        // A fresh connection of bob's does not join it either.
        let bob_again = server.client(bob).await;
        let rooms = bob_again.ready["rooms"].to_string();
        assert!(!rooms.contains(&room), "{rooms}");
        assert!(rooms.contains(&format!("community:{community}")), "{rooms}");
    })
    .await;
}

#[tokio::test]
async fn deleting_a_community_empties_its_rooms() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let (alice, alice_token) = api.register("alice").await;
        let (bob, bob_token) = api.register("bob").await;
        let community = api.community(&alice_token, "Short-lived").await;
        let channel = api.channel(&alice_token, community, "general", false).await;
        let code = api.invite(&alice_token, community).await;
        api.join(&bob_token, &code).await;
        let _alice_ws = server.client(alice).await;
        let mut bob_ws = server.client(bob).await;

        let gone = api
            .call(
                "DELETE",
                &format!("/communities/{community}"),
                Some(&alice_token),
                None,
            )
            .await;
        assert_eq!(gone.status, 204);
        let deleted = next_event(
            &mut bob_ws,
            &format!("community:{community}"),
            "COMMUNITY_DELETED",
        )
        .await;
        assert_eq!(id(&deleted["data"]["community_id"]), community);
        let mut left = Vec::new();
        while left.len() < 2 {
            let frame = bob_ws.recv_op("room_left").await;
            left.push(frame["room"].as_str().unwrap().to_string());
        }
        left.sort();
        let mut expected = vec![
            format!("channel:{channel}"),
            format!("community:{community}"),
        ];
        expected.sort();
        assert_eq!(left, expected);
        let reply = api
            .call(
                "GET",
                &format!("/communities/{community}"),
                Some(&bob_token),
                None,
            )
            .await;
        assert_eq!(reply.status, 404);
        let mine = api.ok(200, "GET", "/communities", &bob_token, None).await;
        assert_eq!(mine, json!([]));
    })
    .await;
}
