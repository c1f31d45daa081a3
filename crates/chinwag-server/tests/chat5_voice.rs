//! Voice presence over real sockets: VOICE_CHANNEL_USER_* reach the voice
//! channel's room (not outsiders, not members a private channel hides
//! from, and whoever loses sight of their channel leaves it);
//! DM_VOICE_CALL_STARTED and DM_VOICE_USER_* reach the DM room;
//! versions grow, a move between channels leaving at one and joining at
//! the next; deleting a voice channel tells who was in it; a user whose
//! connections all drop leaves voice after the grace period. Runs on
//! SQLite and, when configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::support::Client;
use chat_support::{Api, drain, each_backend, id, next_event};
use serde_json::{Value, json};

/// Creates a voice channel; its id.
async fn voice_channel(api: &Api, token: &str, community: i64, name: &str, private: bool) -> i64 {
    id(&api
        .ok(
            201,
            "POST",
            &format!("/communities/{community}/channels"),
            token,
            Some(json!({"name": name, "kind": "voice", "private": private})),
        )
        .await["id"])
}

/// The next `ty` event in a voice channel's room.
async fn voice_event(client: &mut Client, channel: i64, ty: &str) -> Value {
    next_event(client, &format!("channel:{channel}"), ty).await
}

#[tokio::test]
async fn voice_state_events_and_reaping() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let (alice, alice_t) = api.register("alice").await;
        let (bob, bob_t) = api.register("bob").await;
        let (carol, carol_t) = api.register("carol").await;
        let community = api.community(&alice_t, "Guild").await;
        let text = api.channel(&alice_t, community, "general", false).await;
        let lounge = voice_channel(&api, &alice_t, community, "lounge", false).await;
        let code = api.invite(&alice_t, community).await;
        api.join(&bob_t, &code).await;
        let croom = format!("channel:{lounge}");

        let mut alice_ws = server.client(alice).await;
        let mut carol_ws = server.client(carol).await;

        // Text channels are not voice channels; outsiders cannot join.
        let r = api
            .call(
                "PUT",
                &format!("/channels/{text}/voice"),
                Some(&bob_t),
                None,
            )
            .await;
        assert_eq!(r.status, 400);
        let r = api
            .call(
                "PUT",
                &format!("/channels/{lounge}/voice"),
                Some(&carol_t),
                None,
            )
            .await;
        assert_eq!(r.status, 404);
        // Voice ends with the user's last connection, so a join needs one.
        let r = api
            .call(
                "PUT",
                &format!("/channels/{lounge}/voice"),
                Some(&bob_t),
                None,
            )
            .await;
        assert_eq!(r.status, 409, "{:?}", r.body);
        assert_eq!(r.code(), "CONFLICT");
        let _bob_ws = server.client(bob).await;
        // A body, if any, is JSON.
        let r = chat_support::raw(
            server.addr,
            "PUT",
            &format!("/api/v1/channels/{lounge}/voice"),
            Some(&bob_t),
            Some("text/plain"),
            br#"{"muted": true}"#,
        )
        .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        // An oversized one is refused in the API's JSON, as everywhere.
        let huge = format!("{{\"muted\": true, \"x\": \"{}\"}}", "z".repeat(70 * 1024));
        let r = chat_support::raw(
            server.addr,
            "PUT",
            &format!("/api/v1/channels/{lounge}/voice"),
            Some(&bob_t),
            Some("application/json"),
            huge.as_bytes(),
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (413, "PAYLOAD_TOO_LARGE"),
            "{:?}",
            r.body
        );

        let joined = api
            .ok(
                200,
                "PUT",
                &format!("/channels/{lounge}/voice"),
                &bob_t,
                None,
            )
            .await;
        let ev = next_event(&mut alice_ws, &croom, "VOICE_CHANNEL_USER_JOINED").await;
        assert_eq!(id(&ev["data"]["state"]["user_id"]), bob);
        assert_eq!(ev["data"]["state"]["version"], joined["version"]);
        let updated = api
            .ok(
                200,
                "PATCH",
                "/users/@me/voice",
                &bob_t,
                Some(json!({"muted": true})),
            )
            .await;
        assert!(updated["version"].as_i64() > joined["version"].as_i64());
        let ev = next_event(&mut alice_ws, &croom, "VOICE_CHANNEL_USER_UPDATED").await;
        assert_eq!(ev["data"]["state"]["muted"], true);
        let list = api
            .ok(
                200,
                "GET",
                &format!("/channels/{lounge}/voice"),
                &alice_t,
                None,
            )
            .await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        api.ok(204, "DELETE", "/users/@me/voice", &bob_t, None)
            .await;
        let ev = next_event(&mut alice_ws, &croom, "VOICE_CHANNEL_USER_LEFT").await;
        assert!(ev["data"]["state"]["version"].as_i64() > updated["version"].as_i64());
        let seen = drain(&mut carol_ws).await;
        assert!(
            seen.iter()
                .all(|e| !e["type"].as_str().unwrap().contains("VOICE")),
            "{seen:?}"
        );

        // DM call: the first join starts the call.
        let dm = api.dm_via_community(&alice_t, &carol_t, carol).await;
        let dmroom = format!("dm:{dm}");
        api.ok(200, "PUT", &format!("/channels/{dm}/voice"), &alice_t, None)
            .await;
        let ev = next_event(&mut carol_ws, &dmroom, "DM_VOICE_CALL_STARTED").await;
        assert_eq!(id(&ev["data"]["started_by"]), alice);
        next_event(&mut carol_ws, &dmroom, "DM_VOICE_USER_JOINED").await;
        next_event(&mut alice_ws, &dmroom, "DM_VOICE_USER_JOINED").await;
        api.ok(
            200,
            "PUT",
            &format!("/channels/{dm}/voice"),
            &carol_t,
            Some(json!({"deafened": true})),
        )
        .await;
        let ev = next_event(&mut alice_ws, &dmroom, "DM_VOICE_USER_JOINED").await;
        assert_eq!(ev["data"]["state"]["deafened"], true);
        api.ok(
            200,
            "PATCH",
            "/users/@me/voice",
            &carol_t,
            Some(json!({"deafened": false})),
        )
        .await;
        next_event(&mut alice_ws, &dmroom, "DM_VOICE_USER_UPDATED").await;
        let seen = drain(&mut alice_ws).await;
        assert!(
            seen.iter().all(|e| e["type"] != "DM_VOICE_CALL_STARTED"),
            "one start per call"
        );
        api.ok(204, "DELETE", "/users/@me/voice", &carol_t, None)
            .await;
        next_event(&mut alice_ws, &dmroom, "DM_VOICE_USER_LEFT").await;

        // Carol rejoins, then drops her only connection: after the grace
        // period she leaves the call.
        api.ok(200, "PUT", &format!("/channels/{dm}/voice"), &carol_t, None)
            .await;
        next_event(&mut alice_ws, &dmroom, "DM_VOICE_USER_JOINED").await;
        drop(carol_ws);
        let ev = next_event(&mut alice_ws, &dmroom, "DM_VOICE_USER_LEFT").await;
        assert_eq!(id(&ev["data"]["state"]["user_id"]), carol);
        let list = api
            .ok(200, "GET", &format!("/channels/{dm}/voice"), &alice_t, None)
            .await;
        assert_eq!(
            list.as_array().unwrap().len(),
            1,
            "only alice is left in the call"
        );

        // Alone in the call, Alice joining it again starts nothing.
        api.ok(200, "PUT", &format!("/channels/{dm}/voice"), &alice_t, None)
            .await;
        let seen = drain(&mut alice_ws).await;
        assert!(
            seen.iter().all(|e| e["type"] != "DM_VOICE_CALL_STARTED"),
            "a join again is no new call: {seen:?}"
        );
        // Two first joins at once start one call.
        let other_dm = api.dm(&alice_t, bob).await;
        let path = format!("/channels/{other_dm}/voice");
        tokio::join!(
            api.ok(200, "PUT", &path, &alice_t, None),
            api.ok(200, "PUT", &path, &bob_t, None)
        );
        let seen = drain(&mut alice_ws).await;
        let starts = seen
            .iter()
            .filter(|e| e["type"] == "DM_VOICE_CALL_STARTED")
            .count();
        assert_eq!(starts, 1, "{seen:?}");
    })
    .await;
}

#[tokio::test]
async fn moves_private_channels_and_deletion_keep_voice_caches_true() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let (alice, alice_t) = api.register("alice").await;
        let (bob, bob_t) = api.register("bob").await;
        let (carol, carol_t) = api.register("carol").await;
        let community = api.community(&alice_t, "Guild").await;
        let one = voice_channel(&api, &alice_t, community, "one", false).await;
        let two = voice_channel(&api, &alice_t, community, "two", false).await;
        let hidden = voice_channel(&api, &alice_t, community, "hidden", true).await;
        let code = api.invite(&alice_t, community).await;
        api.join(&bob_t, &code).await;
        api.join(&carol_t, &code).await;
        api.ok(
            204,
            "PUT",
            &format!("/channels/{hidden}/members/{bob}"),
            &alice_t,
            None,
        )
        .await;
        let mut alice_ws = server.client(alice).await;
        let mut bob_ws = server.client(bob).await;
        let mut carol_ws = server.client(carol).await;
        let join = |token: &str, channel: i64| {
            let path = format!("/channels/{channel}/voice");
            let (api, token) = (&api, token.to_owned());
            async move { api.ok(200, "PUT", &path, &token, None).await }
        };
        let version = |ev: &serde_json::Value| ev["data"]["state"]["version"].as_i64().unwrap();
        // The status of muting oneself: 404 when in no voice channel.
        let mute = |token: &str| {
            let (api, token) = (&api, token.to_owned());
            async move {
                let body = Some(json!({"muted": true}));
                api.call("PATCH", "/users/@me/voice", Some(&token), body)
                    .await
                    .status
            }
        };

        // A move leaves at one version and joins at the next: a client that
        // applies only newer versions keeps both.
        let first = join(&bob_t, one).await;
        voice_event(&mut alice_ws, one, "VOICE_CHANNEL_USER_JOINED").await;
        let moved = join(&bob_t, two).await;
        let left = voice_event(&mut alice_ws, one, "VOICE_CHANNEL_USER_LEFT").await;
        let joined = voice_event(&mut alice_ws, two, "VOICE_CHANNEL_USER_JOINED").await;
        assert_eq!(id(&left["data"]["state"]["channel_id"]), one);
        assert!(version(&left) > first["version"].as_i64().unwrap());
        assert_eq!(version(&joined), version(&left) + 1);
        assert_eq!(joined["data"]["state"], moved);

        // A private voice channel's occupants are shown only to those who
        // may see it: Alice (owner) is told, Carol (not listed) is not.
        join(&bob_t, hidden).await;
        voice_event(&mut alice_ws, hidden, "VOICE_CHANNEL_USER_JOINED").await;
        let hidden_id = hidden.to_string();
        let seen = drain(&mut carol_ws).await;
        assert!(
            seen.iter()
                .all(|e| e["data"]["state"]["channel_id"] != hidden_id.as_str()),
            "{seen:?}"
        );
        let r = api
            .call(
                "GET",
                &format!("/channels/{hidden}/voice"),
                Some(&carol_t),
                None,
            )
            .await;
        assert_eq!(r.status, 404);

        // Taken off the list of the channel he is in, he leaves it.
        let path = format!("/channels/{hidden}/members/{bob}");
        api.ok(204, "DELETE", &path, &alice_t, None).await;
        let left = voice_event(&mut alice_ws, hidden, "VOICE_CHANNEL_USER_LEFT").await;
        assert_eq!(id(&left["data"]["state"]["user_id"]), bob);
        assert_eq!(mute(&bob_t).await, 404, "Bob is in no channel");
        // His own devices hear it too, before the room goes.
        let own = voice_event(&mut bob_ws, hidden, "VOICE_CHANNEL_USER_LEFT").await;
        assert_eq!(own["data"]["state"], left["data"]["state"]);

        // Deleting the channel Bob is in tells its observers he left it.
        let before = join(&bob_t, one).await;
        voice_event(&mut alice_ws, one, "VOICE_CHANNEL_USER_JOINED").await;
        api.ok(204, "DELETE", &format!("/channels/{one}"), &alice_t, None)
            .await;
        let left = voice_event(&mut alice_ws, one, "VOICE_CHANNEL_USER_LEFT").await;
        assert_eq!(id(&left["data"]["state"]["user_id"]), bob);
        assert!(version(&left) > before["version"].as_i64().unwrap());
        next_event(
            &mut alice_ws,
            &format!("community:{community}"),
            "CHANNEL_DELETED",
        )
        .await;
        assert_eq!(mute(&bob_t).await, 404, "Bob is in no channel now");
        let rejoined = join(&bob_t, two).await;
        assert!(rejoined["version"].as_i64().unwrap() > version(&left));

        // Made private, a voice channel loses the occupants not on its
        // list (both here), and each hears themselves leave.
        join(&carol_t, two).await;
        for user in [bob, carol] {
            let joined = voice_event(&mut alice_ws, two, "VOICE_CHANNEL_USER_JOINED").await;
            assert_eq!(id(&joined["data"]["state"]["user_id"]), user);
        }
        api.ok(
            200,
            "PATCH",
            &format!("/channels/{two}"),
            &alice_t,
            Some(json!({"private": true})),
        )
        .await;
        let mut gone = Vec::new();
        for _ in 0..2 {
            let left = voice_event(&mut alice_ws, two, "VOICE_CHANNEL_USER_LEFT").await;
            gone.push(id(&left["data"]["state"]["user_id"]));
        }
        gone.sort();
        assert_eq!(gone, [bob.min(carol), bob.max(carol)]);
        // Bob's leave may come first while Carol is still in the room.
        let mut own = voice_event(&mut carol_ws, two, "VOICE_CHANNEL_USER_LEFT").await;
        if id(&own["data"]["state"]["user_id"]) == bob {
            own = voice_event(&mut carol_ws, two, "VOICE_CHANNEL_USER_LEFT").await;
        }
        assert_eq!(id(&own["data"]["state"]["user_id"]), carol);
        assert_eq!(mute(&carol_t).await, 404, "Carol is in no channel");
        let r = api
            .call(
                "GET",
                &format!("/channels/{two}/voice"),
                Some(&alice_t),
                None,
            )
            .await;
        assert_eq!(r.body, json!([]), "no ghost occupants");
    })
    .await;
}

#[tokio::test]
async fn a_starting_node_ends_voice_left_without_a_connection() {
    use chat_support::support::{self, TestServer};

    each_backend(|server| async move {
        // The whole server lives as long as the test, not only the fields
        // it uses.
        let server = server;
        let api = Api { addr: server.addr };
        let (_, alice_t) = api.register("alice").await;
        let (bob, bob_t) = api.register("bob").await;
        let community = api.community(&alice_t, "Guild").await;
        let lounge = voice_channel(&api, &alice_t, community, "lounge", false).await;
        let code = api.invite(&alice_t, community).await;
        api.join(&bob_t, &code).await;
        // Bob is in voice with no connection, as a node killed under him
        // leaves him: the database says so, and no node will check him.
        let store = server.state.chat.store().clone();
        let (bob_id, lounge_id) = (chinwag_protocol::Id(bob), chinwag_protocol::Id(lounge));
        let community_id = Some(chinwag_protocol::Id(community));
        store
            .voice_join(bob_id, lounge_id, community_id, false, false)
            .await
            .unwrap();
        let dir = support::TempDir::new();
        let config = support::test_config(&dir);
        let state = chinwag_server::AppState::with_store(config.clone(), store.clone())
            .await
            .unwrap();
        let _started = TestServer::serve(state, config, dir).await;
        let bob = chinwag_protocol::Id(bob);
        let ended = tokio::time::timeout(support::WAIT, async {
            while store.voice_state(bob).await.unwrap().is_some() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(ended.is_ok(), "Bob stayed in voice with no connection");
    })
    .await;
}
