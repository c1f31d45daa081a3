//! Bad input over real sockets: each gets a clear JSON error with a stable
//! code, and nothing is stored or emitted. Runs on SQLite and, when
//! configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, drain, each_backend, id, raw};
use serde_json::json;

#[tokio::test]
async fn bad_messages_are_refused_and_nothing_is_stored() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let (alice, alice_token) = api.register("alice").await;
        let (_bob, bob_token) = api.register("bob").await;
        let community = api.community(&alice_token, "Checks").await;
        let channel = api.channel(&alice_token, community, "general", false).await;
        let code = api.invite(&alice_token, community).await;
        api.join(&bob_token, &code).await;
        let mut alice_ws = server.client(alice).await;
        let path = format!("/channels/{channel}/messages");

        let too_long = "x".repeat(4001);
        for (body, what) in [
            (json!({"content": ""}), "empty"),
            (json!({"content": " \n\t "}), "blank"),
            (json!({"content": too_long}), "4001 characters"),
            (json!({"text": "wrong field"}), "missing content"),
            (json!({"content": 42}), "wrong type"),
        ] {
            let reply = api
                .call("POST", &path, Some(&alice_token), Some(body))
                .await;
            assert_eq!(reply.status, 400, "{what}: {:?}", reply.body);
            assert_eq!(reply.code(), "BAD_REQUEST", "{what}");
            assert!(!reply.body["error"]["message"].as_str().unwrap().is_empty());
        }
        // 4000 characters is fine (after trimming).
        let max = format!("  {}  ", "y".repeat(4000));
        api.send(&alice_token, channel, &max).await;

        let malformed = raw(
            server.addr,
            "POST",
            &format!("/api/v1{path}"),
            Some(&alice_token),
            Some("application/json"),
            b"{\"content\": \"unterminated",
        )
        .await;
        assert_eq!(malformed.status, 400);
        assert_eq!(malformed.code(), "BAD_REQUEST");
        let no_type = raw(
            server.addr,
            "POST",
            &format!("/api/v1{path}"),
            Some(&alice_token),
            None,
            b"{\"content\": \"hi\"}",
        )
        .await;
        assert_eq!(no_type.status, 400);
        let huge = format!("{{\"content\": \"{}\"}}", "z".repeat(70 * 1024));
        let oversized = raw(
            server.addr,
            "POST",
            &format!("/api/v1{path}"),
            Some(&alice_token),
            Some("application/json"),
            huge.as_bytes(),
        )
        .await;
        assert_eq!(oversized.status, 413);
        assert_eq!(oversized.code(), "PAYLOAD_TOO_LARGE");

        // Unknown and malformed ids.
        let unknown = api
            .call(
                "POST",
                "/channels/123456789/messages",
                Some(&alice_token),
                Some(json!({"content": "hi"})),
            )
            .await;
        assert_eq!(unknown.status, 404);
        assert_eq!(unknown.code(), "NOT_FOUND");
        let not_an_id = api
            .call(
                "GET",
                "/channels/general/messages",
                Some(&alice_token),
                None,
            )
            .await;
        assert_eq!(not_an_id.status, 400);
        let no_route = api.call("GET", "/nope", Some(&alice_token), None).await;
        assert_eq!(no_route.status, 404);
        assert_eq!(no_route.code(), "NOT_FOUND");

        // Bad history queries.
        for query in [
            "?limit=0",
            "?limit=101",
            "?limit=x",
            "?before=1&after=2",
            "?before=abc",
        ] {
            let reply = api
                .call("GET", &format!("{path}{query}"), Some(&alice_token), None)
                .await;
            assert_eq!(reply.status, 400, "{query}: {:?}", reply.body);
        }

        // No token, or a bad one.
        let anonymous = api.call("GET", &path, None, None).await;
        assert_eq!(anonymous.status, 401);
        assert_eq!(anonymous.code(), "UNAUTHORIZED");
        let forged = api.call("GET", &path, Some("not.a.jwt"), None).await;
        assert_eq!(forged.status, 401);

        // Editing or deleting another user's message.
        let mine = api.send(&alice_token, channel, "alice's words").await;
        let mine_id = id(&mine["id"]);
        let edit = api
            .call(
                "PATCH",
                &format!("/messages/{mine_id}"),
                Some(&bob_token),
                Some(json!({"content": "bob's words"})),
            )
            .await;
        assert_eq!(edit.status, 403);
        assert_eq!(edit.code(), "FORBIDDEN");
        let delete = api
            .call(
                "DELETE",
                &format!("/messages/{mine_id}"),
                Some(&bob_token),
                None,
            )
            .await;
        assert_eq!(delete.status, 403);
        let empty_edit = api
            .call(
                "PATCH",
                &format!("/messages/{mine_id}"),
                Some(&alice_token),
                Some(json!({"content": "   "})),
            )
            .await;
        assert_eq!(empty_edit.status, 400);
        let stored = api
            .ok(
                200,
                "GET",
                &format!("/messages/{mine_id}"),
                &alice_token,
                None,
            )
            .await;
        assert_eq!(stored["content"], "alice's words");
        assert_eq!(stored["version"], 1);

        // Only the valid messages were emitted: no edit, no delete.
        let events = drain(&mut alice_ws).await;
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "NEW_MESSAGE").count(),
            2,
            "{kinds:?}"
        );
        assert!(!kinds.contains(&"UPDATE_MESSAGE") && !kinds.contains(&"DELETE_MESSAGE"));

        // The WebSocket refuses the same input with an error frame.
        for (content, channel_id, code) in [
            ("   ", channel.to_string(), "BAD_REQUEST"),
            (too_long.as_str(), channel.to_string(), "BAD_REQUEST"),
            ("hi", "987654321".to_string(), "NOT_FOUND"),
        ] {
            alice_ws
                .send(json!({"op": "send_message", "channel_id": channel_id,
                             "content": content, "nonce": "bad"}))
                .await;
            let error = loop {
                let frame = alice_ws.recv().await;
                assert_ne!(frame["op"], "event", "nothing is emitted: {frame}");
                if frame["op"] == "error" {
                    break frame;
                }
            };
            assert_eq!(error["code"], code);
            assert_eq!(error["nonce"], "bad");
        }
        assert!(drain(&mut alice_ws).await.is_empty());

        // Only the two valid messages exist.
        let history = api.history(&alice_token, channel, "?limit=100").await;
        assert_eq!(history.len(), 2, "{history:?}");
        assert_eq!(history[1]["content"].as_str().unwrap().len(), 4000);
        assert_eq!(history[0]["content"], "alice's words");
    })
    .await;
}

#[tokio::test]
async fn bad_accounts_and_structure_input_is_refused() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        for (username, password) in [
            ("ab", "long enough"),
            ("Alice", "long enough"),
            ("al ice", "long enough"),
            ("alice", "short"),
        ] {
            let reply = api
                .call(
                    "POST",
                    "/auth/register",
                    None,
                    Some(json!({"username": username, "password": password})),
                )
                .await;
            assert_eq!(reply.status, 400, "{username}/{password}: {:?}", reply.body);
        }
        let (_alice, token) = api.register("alice").await;
        let taken = api
            .call(
                "POST",
                "/auth/register",
                None,
                Some(json!({"username": "alice", "password": "another password"})),
            )
            .await;
        assert_eq!(taken.status, 409);
        assert_eq!(taken.code(), "CONFLICT");

        for name in ["", "   ", &"n".repeat(101)] {
            let reply = api
                .call(
                    "POST",
                    "/communities",
                    Some(&token),
                    Some(json!({"name": name})),
                )
                .await;
            assert_eq!(reply.status, 400, "{name:?}");
        }
        assert_eq!(
            api.ok(200, "GET", "/communities", &token, None).await,
            json!([])
        );
        let community = api.community(&token, "Ok").await;
        let bad_channel = api
            .call(
                "POST",
                &format!("/communities/{community}/channels"),
                Some(&token),
                Some(json!({"name": "dm", "kind": "dm"})),
            )
            .await;
        assert_eq!(bad_channel.status, 400);
        let bad_invite = api
            .call(
                "POST",
                &format!("/communities/{community}/invites"),
                Some(&token),
                Some(json!({"max_uses": 0})),
            )
            .await;
        assert_eq!(bad_invite.status, 400);
        let no_invite = api.call("GET", "/invites/doesnotexist", None, None).await;
        assert_eq!(no_invite.status, 404);
        let bad_order = api
            .call(
                "PUT",
                &format!("/communities/{community}/channels/order"),
                Some(&token),
                Some(json!({"channel_ids": ["1"]})),
            )
            .await;
        assert_eq!(bad_order.status, 400);
        let channels = api
            .ok(
                200,
                "GET",
                &format!("/communities/{community}/channels"),
                &token,
                None,
            )
            .await;
        assert_eq!(channels, json!([]));
    })
    .await;
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let server = chat_support::support::TestServer::start().await;
    let api = Api { addr: server.addr };
    let reply = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["openapi"], "3.1.0");
    let paths = reply.body["paths"].as_object().unwrap();
    for path in [
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/users/@me",
        "/users/presences",
        "/communities",
        "/communities/{community_id}",
        "/communities/{community_id}/members",
        "/users/@me/communities/{community_id}",
        "/communities/{community_id}/invites",
        "/invites/{code}",
        "/invites/{code}/join",
        "/communities/{community_id}/channels",
        "/communities/{community_id}/channels/order",
        "/channels/{channel_id}",
        "/channels/{channel_id}/members",
        "/channels/{channel_id}/members/{user_id}",
        "/channels/{channel_id}/messages",
        "/messages/{message_id}",
        "/messages/{message_id}/thread",
        "/dms",
        "/users/@me/dms/{channel_id}",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(path), "{path} missing from openapi.json");
    }
}
