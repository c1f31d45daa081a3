//! The chat core end to end over real sockets: register, community,
//! channel, invite, join, messages both ways (REST and WebSocket with a
//! nonce), edit, delete, history that matches the stream, and thread pages. Runs on
//! SQLite and, when configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, drain, each_backend, id, next_event};
use serde_json::json;

#[tokio::test]
async fn two_users_chat_end_to_end() {
    each_backend(|server| async move {
        let server = server; // keep it alive: the body may use only its address
        let api = Api { addr: server.addr };
        let (alice, alice_token) = api.register("alice").await;
        let (bob, bob_token) = api.register("bob").await;
        let mut alice_ws = server.client(alice).await;
        let mut bob_ws = server.client(bob).await;

        // Alice builds a community with a channel; her stream joins both.
        let community = api.community(&alice_token, "Rustaceans").await;
        let community_room = format!("community:{community}");
        let channel = api.channel(&alice_token, community, "general", false).await;
        let channel_room = format!("channel:{channel}");
        let created = next_event(&mut alice_ws, &community_room, "CHANNEL_CREATED").await;
        assert_eq!(id(&created["data"]["channel_id"]), channel);

        // Bob previews the invite without a token, then joins.
        let code = api.invite(&alice_token, community).await;
        let preview = api
            .call("GET", &format!("/invites/{code}"), None, None)
            .await;
        assert_eq!(preview.status, 200);
        assert_eq!(preview.body["community_name"], "Rustaceans");
        assert_eq!(preview.body["member_count"], 1);
        let joined = api.join(&bob_token, &code).await;
        assert_eq!(id(&joined["community"]["id"]), community);
        assert!(joined["access_token"].as_str().unwrap().len() > 20);
        let added = next_event(&mut alice_ws, &community_room, "MEMBER_ADDED_TO_COMMUNITY").await;
        assert_eq!(id(&added["data"]["user_id"]), bob);
        // Bob's open stream was joined to the community and its channel.
        let added = next_event(&mut bob_ws, &community_room, "MEMBER_ADDED_TO_COMMUNITY").await;
        assert_eq!(id(&added["data"]["user_id"]), bob);
        // Swapping in the fresh token changes nothing: the rooms are there.
        bob_ws
            .send(json!({"op": "reauth", "token": joined["access_token"]}))
            .await;
        let reauthed = bob_ws.recv_op("reauthed").await;
        assert_eq!(reauthed["rooms_added"], json!([]), "{reauthed}");
        assert_eq!(reauthed["rooms_removed"], json!([]), "{reauthed}");
        let channels = api
            .ok(
                200,
                "GET",
                &format!("/communities/{community}/channels"),
                &bob_token,
                None,
            )
            .await;
        assert_eq!(channels.as_array().unwrap().len(), 1);

        // Bob -> Alice over REST.
        let sent = api.send(&bob_token, channel, "hello <@1> from bob").await;
        for ws in [&mut alice_ws, &mut bob_ws] {
            let event = next_event(ws, &channel_room, "NEW_MESSAGE").await;
            assert_eq!(event["data"]["message"]["id"], sent["id"]);
            assert_eq!(event["data"]["message"]["content"], "hello <@1> from bob");
            assert_eq!(id(&event["data"]["message"]["author"]["id"]), bob);
        }

        // Alice -> Bob over the WebSocket, with a nonce matched exactly once.
        alice_ws
            .send(
                json!({"op": "send_message", "channel_id": channel.to_string(),
                         "content": "  hi bob  ", "nonce": "n-1"}),
            )
            .await;
        let mut acked = None;
        let mut echoed = Vec::new();
        while acked.is_none() || echoed.is_empty() {
            let frame = alice_ws.recv().await;
            match frame["op"].as_str() {
                Some("ack") => {
                    assert_eq!(frame["nonce"], "n-1");
                    acked = Some(frame["data"]["message"].clone());
                }
                Some("event") if frame["type"] == "NEW_MESSAGE" => echoed.push(frame),
                _ => {}
            }
        }
        let acked = acked.unwrap();
        assert_eq!(acked["content"], "hi bob");
        assert!(
            drain(&mut alice_ws)
                .await
                .iter()
                .all(|e| e["type"] != "NEW_MESSAGE")
        );
        assert_eq!(echoed.len(), 1);
        assert_eq!(echoed[0]["data"]["message"]["nonce"], "n-1");
        assert_eq!(echoed[0]["data"]["message"]["id"], acked["id"]);
        let at_bob = next_event(&mut bob_ws, &channel_room, "NEW_MESSAGE").await;
        assert_eq!(at_bob["data"]["message"]["id"], acked["id"]);
        assert!(at_bob["offset"].as_u64().unwrap() > 0);

        // Bob edits his message; both see the new version.
        let edited = api
            .ok(
                200,
                "PATCH",
                &format!("/messages/{}", id(&sent["id"])),
                &bob_token,
                Some(json!({"content": "hello again"})),
            )
            .await;
        assert_eq!(edited["version"], 2);
        assert!(edited["edited_at"].is_number());
        for ws in [&mut alice_ws, &mut bob_ws] {
            let event = next_event(ws, &channel_room, "UPDATE_MESSAGE").await;
            assert_eq!(event["data"]["message"]["content"], "hello again");
            assert_eq!(event["data"]["message"]["version"], 2);
        }

        // Alice deletes hers.
        let gone = api
            .call(
                "DELETE",
                &format!("/messages/{}", id(&acked["id"])),
                Some(&alice_token),
                None,
            )
            .await;
        assert_eq!(gone.status, 204);
        for ws in [&mut alice_ws, &mut bob_ws] {
            let event = next_event(ws, &channel_room, "DELETE_MESSAGE").await;
            assert_eq!(event["data"]["id"], acked["id"]);
            assert_eq!(event["data"]["version"], 2);
        }

        // More traffic, then history pages must match what the stream showed.
        let mut streamed = vec![id(&sent["id"])];
        for n in 0..7 {
            let token = if n % 2 == 0 { &alice_token } else { &bob_token };
            api.send(token, channel, &format!("message {n}")).await;
            let event = next_event(&mut bob_ws, &channel_room, "NEW_MESSAGE").await;
            streamed.push(id(&event["data"]["message"]["id"]));
        }
        let mut paged = Vec::new();
        let mut query = "?limit=3".to_string();
        loop {
            let page = api.history(&bob_token, channel, &query).await;
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 3);
            paged.extend(page.iter().map(|m| id(&m["id"])));
            query = format!("?limit=3&before={}", paged.last().unwrap());
        }
        paged.reverse();
        assert_eq!(paged, streamed, "history (oldest first) matches the stream");
        let forward = api
            .history(
                &alice_token,
                channel,
                &format!("?after={}&limit=100", streamed[0]),
            )
            .await;
        let forward: Vec<i64> = forward.iter().map(|m| id(&m["id"])).collect();
        assert_eq!(forward, streamed[1..]);
        let around = api
            .history(
                &alice_token,
                channel,
                &format!("?around={}&limit=3", streamed[4]),
            )
            .await;
        let around: Vec<i64> = around.iter().map(|m| id(&m["id"])).collect();
        assert_eq!(around, vec![streamed[5], streamed[4], streamed[3]]);
        let latest = api.history(&alice_token, channel, "").await;
        assert_eq!(latest.last().unwrap()["content"], "hello again");
    })
    .await;
}

#[tokio::test]
async fn accounts_register_login_refresh_logout() {
    each_backend(|server| async move {
        let server = server; // keep it alive: the body may use only its address
        let api = Api { addr: server.addr };
        let reply = api
            .call("POST", "/auth/register", None,
                  Some(json!({"username": "dora", "password": "hunter2hunter2", "display_name": "Dora"})))
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        assert_eq!(reply.body["user"]["display_name"], "Dora");
        let token = reply.body["access_token"].as_str().unwrap().to_string();
        let me = api.ok(200, "GET", "/users/@me", &token, None).await;
        assert_eq!(me["username"], "dora");

        let login = api
            .call("POST", "/auth/login", None,
                  Some(json!({"username": "dora", "password": "hunter2hunter2"})))
            .await;
        assert_eq!(login.status, 200);
        let refresh = login.body["refresh_token"].as_str().unwrap().to_string();
        let rotated = api
            .call("POST", "/auth/refresh", None, Some(json!({"refresh_token": refresh})))
            .await;
        assert_eq!(rotated.status, 200);
        assert_eq!(rotated.body["user"]["username"], "dora");
        let newest = rotated.body["refresh_token"].as_str().unwrap().to_string();
        // Logging out revokes a refresh token.
        let other = api
            .call("POST", "/auth/login", None,
                  Some(json!({"username": "dora", "password": "hunter2hunter2"})))
            .await;
        let other = other.body["refresh_token"].as_str().unwrap().to_string();
        let out = api
            .call("POST", "/auth/logout", None, Some(json!({"refresh_token": other})))
            .await;
        assert_eq!(out.status, 204);
        let after = api
            .call("POST", "/auth/refresh", None, Some(json!({"refresh_token": other})))
            .await;
        assert_eq!(after.status, 401);
        // A logged-out token presented again is just refused: the newest
        // session still works.
        let again = api
            .call("POST", "/auth/refresh", None, Some(json!({"refresh_token": newest})))
            .await;
        assert_eq!(again.status, 200);
        let newest = again.body["refresh_token"].as_str().unwrap().to_string();

        // The token rotated away at the start is used again: it leaked, so
        // it is refused and every session of the user ends, the newest too.
        let replayed = api
            .call("POST", "/auth/refresh", None, Some(json!({"refresh_token": refresh})))
            .await;
        assert_eq!(replayed.status, 401);
        assert_eq!(replayed.code(), "UNAUTHORIZED");
        let stolen_successor = api
            .call("POST", "/auth/refresh", None, Some(json!({"refresh_token": newest})))
            .await;
        assert_eq!(stolen_successor.status, 401);

        let wrong = api
            .call("POST", "/auth/login", None,
                  Some(json!({"username": "dora", "password": "wrong-password"})))
            .await;
        assert_eq!(wrong.status, 401);
        let nobody = api
            .call("POST", "/auth/login", None,
                  Some(json!({"username": "nobody", "password": "wrong-password"})))
            .await;
        assert_eq!(nobody.status, 401);
        assert_eq!(nobody.body, wrong.body, "no hint whether the user exists");
    })
    .await;
}

#[tokio::test]
async fn a_thread_is_paged_like_history_and_only_for_those_who_see_it() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let g = api.guild().await;
        let (_, stranger) = api.register("stranger").await;
        let parent = api.send(&g.alice.1, g.general, "parent").await;
        let mut replies = Vec::new();
        for n in 0..5 {
            let reply = api
                .reply(&g.bob.1, g.general, &parent, &format!("reply {n}"))
                .await;
            replies.push(reply["id"].clone());
        }
        let thread = format!("/messages/{}/thread", parent["id"].as_str().unwrap());
        let ids = |page: serde_json::Value| -> Vec<serde_json::Value> {
            page.as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].clone())
                .collect()
        };
        // Newest first by default; `after` pages oldest first.
        let newest = api
            .ok(200, "GET", &format!("{thread}?limit=2"), &g.carol.1, None)
            .await;
        assert_eq!(ids(newest), [replies[4].clone(), replies[3].clone()]);
        let first = replies[0].as_str().unwrap();
        let after = api
            .ok(
                200,
                "GET",
                &format!("{thread}?after={first}&limit=10"),
                &g.carol.1,
                None,
            )
            .await;
        assert_eq!(ids(after), replies[1..].to_vec());
        // History stays top-level only.
        let history = api.history(&g.carol.1, g.general, "").await;
        assert!(history.iter().all(|m| m["thread_parent_id"].is_null()));
        // A reply has no thread; outsiders and unknown ids get 404.
        let reply_thread = format!("/messages/{}/thread", replies[0].as_str().unwrap());
        let r = api.call("GET", &reply_thread, Some(&g.carol.1), None).await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        let r = api.call("GET", &thread, Some(&stranger), None).await;
        assert_eq!(r.status, 404, "{:?}", r.body);
        let r = api
            .call("GET", "/messages/1/thread", Some(&g.carol.1), None)
            .await;
        assert_eq!(r.status, 404, "{:?}", r.body);
        let r = api
            .call(
                "GET",
                &format!("{thread}?before=1&after=2"),
                Some(&g.carol.1),
                None,
            )
            .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
    })
    .await;
}
