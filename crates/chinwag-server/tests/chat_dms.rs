//! Direct messages over real sockets: opening a DM joins both users'
//! streams to `dm:{id}`, messages arrive as NEW_DM with the channel, edits
//! and deletes follow, outsiders see nothing; group DMs, and leaving
//! one; strangers (who share no space) cannot open either; the list comes
//! in pages, most recently active first. Runs on SQLite and, when
//! configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, drain, each_backend, id, next_event};
use serde_json::json;

#[tokio::test]
async fn a_dm_reaches_both_participants_and_nobody_else() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let (alice, alice_token) = api.register("alice").await;
        let (bob, bob_token) = api.register("bob").await;
        let (carol, carol_token) = api.register("carol").await;
        // They meet in a community first: strangers cannot open DMs.
        let community = api.community(&alice_token, "Guild").await;
        let code = api.invite(&alice_token, community).await;
        api.join(&bob_token, &code).await;
        api.join(&carol_token, &code).await;
        let mut alice_ws = server.client(alice).await;
        let mut bob_ws = server.client(bob).await;
        let mut carol_ws = server.client(carol).await;

        let dm = api
            .ok(
                200,
                "POST",
                "/dms",
                &alice_token,
                Some(json!({"recipient_id": bob.to_string()})),
            )
            .await;
        let dm_id = id(&dm["id"]);
        assert_eq!(dm["kind"], "dm");
        let room = format!("dm:{dm_id}");
        for ws in [&mut alice_ws, &mut bob_ws] {
            let joined = ws.recv_op("room_joined").await;
            assert_eq!(joined["room"], room);
        }
        // Opening it again is the same DM, from either side.
        let again = api
            .ok(
                200,
                "POST",
                "/dms",
                &bob_token,
                Some(json!({"recipient_id": alice})),
            )
            .await;
        assert_eq!(id(&again["id"]), dm_id);

        let sent = api.send(&alice_token, dm_id, "psst").await;
        for ws in [&mut alice_ws, &mut bob_ws] {
            let event = next_event(ws, &room, "NEW_DM").await;
            assert_eq!(event["data"]["message"]["id"], sent["id"]);
            assert_eq!(id(&event["data"]["channel"]["id"]), dm_id);
            assert!(event["data"]["message"]["community_id"].is_null());
        }
        bob_ws
            .send(
                json!({"op": "send_message", "channel_id": dm_id.to_string(),
                         "content": "hey", "nonce": "b1"}),
            )
            .await;
        let reply = next_event(&mut alice_ws, &room, "NEW_DM").await;
        assert_eq!(reply["data"]["message"]["nonce"], "b1");

        let edited = api
            .ok(
                200,
                "PATCH",
                &format!("/messages/{}", id(&sent["id"])),
                &alice_token,
                Some(json!({"content": "psst!"})),
            )
            .await;
        assert_eq!(edited["version"], 2);
        let event = next_event(&mut bob_ws, &room, "UPDATE_MESSAGE").await;
        assert_eq!(event["data"]["message"]["content"], "psst!");
        let gone = api
            .call(
                "DELETE",
                &format!("/messages/{}", id(&sent["id"])),
                Some(&alice_token),
                None,
            )
            .await;
        assert_eq!(gone.status, 204);
        next_event(&mut bob_ws, &room, "DELETE_MESSAGE").await;

        // Carol is not in it.
        for (method, body) in [("GET", None), ("POST", Some(json!({"content": "me too"})))] {
            let reply = api
                .call(
                    method,
                    &format!("/channels/{dm_id}/messages"),
                    Some(&carol_token),
                    body,
                )
                .await;
            assert_eq!(reply.status, 404, "{method}: {:?}", reply.body);
        }
        assert!(drain(&mut carol_ws).await.iter().all(|e| e["room"] != room));
        let history = api.history(&bob_token, dm_id, "").await;
        assert_eq!(history.len(), 1);
        assert_eq!(history[0]["content"], "hey");
        let listed = api.ok(200, "GET", "/dms", &bob_token, None).await;
        assert_eq!(id(&listed[0]["id"]), dm_id);
        assert_eq!(
            api.ok(200, "GET", "/dms", &carol_token, None).await,
            json!([])
        );

        // A fresh connection joins the DM room from the start.
        let bob_again = server.client(bob).await;
        assert!(bob_again.ready["rooms"].to_string().contains(&room));

        // Group DMs.
        let group = api
            .ok(
                200,
                "POST",
                "/dms",
                &carol_token,
                Some(
                    json!({"recipient_ids": [alice.to_string(), bob.to_string()], "name": "trio"}),
                ),
            )
            .await;
        assert_eq!(group["kind"], "group_dm");
        assert_eq!(group["recipient_ids"].as_array().unwrap().len(), 3);
        let group_id = id(&group["id"]);
        api.send(&bob_token, group_id, "hi all").await;
        for ws in [&mut alice_ws, &mut carol_ws] {
            let event = next_event(ws, &format!("dm:{group_id}"), "NEW_DM").await;
            assert_eq!(event["data"]["message"]["content"], "hi all");
        }

        // Bad DM requests.
        for body in [
            json!({"recipient_id": alice.to_string()}),
            json!({}),
            json!({"recipient_id": bob.to_string(), "recipient_ids": [bob.to_string()]}),
        ] {
            let reply = api
                .call("POST", "/dms", Some(&alice_token), Some(body.clone()))
                .await;
            assert_eq!(reply.status, 400, "{body}: {:?}", reply.body);
        }
        let ghost = api
            .call(
                "POST",
                "/dms",
                Some(&alice_token),
                Some(json!({"recipient_id": "424242"})),
            )
            .await;
        assert_eq!(ghost.status, 404);
    })
    .await;
}

#[tokio::test]
async fn strangers_cannot_open_dms_and_cannot_tell_who_exists() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let (alice, alice_token) = api.register("alice").await;
        let (bob, bob_token) = api.register("bob").await;
        let (mallory, mallory_token) = api.register("mallory").await;
        let community = api.community(&alice_token, "Guild").await;
        let code = api.invite(&alice_token, community).await;
        api.join(&bob_token, &code).await;
        let mut alice_ws = server.client(alice).await;

        // A stranger's answer for a real user is the one for a made-up id.
        let ghost = api
            .call(
                "POST",
                "/dms",
                Some(&mallory_token),
                Some(json!({"recipient_id": "424242"})),
            )
            .await;
        assert_eq!(ghost.status, 404);
        for body in [
            json!({"recipient_id": alice.to_string()}),
            json!({"recipient_ids": [alice.to_string(), bob.to_string()]}),
            json!({"recipient_ids": [bob.to_string()]}),
        ] {
            let reply = api
                .call("POST", "/dms", Some(&mallory_token), Some(body.clone()))
                .await;
            assert_eq!(reply.status, 404, "{body}: {:?}", reply.body);
            assert_eq!(reply.body, ghost.body, "{body}");
        }
        // Nothing was made, and alice's devices joined nothing.
        assert_eq!(
            api.ok(200, "GET", "/dms", &mallory_token, None).await,
            json!([])
        );
        assert_eq!(
            api.ok(200, "GET", "/dms", &alice_token, None).await,
            json!([])
        );
        let seen = drain(&mut alice_ws).await;
        assert!(seen.is_empty(), "{seen:?}");

        // A group DM needs every member acquainted with its creator: bob
        // may bring alice, not mallory.
        let reply = api
            .call(
                "POST",
                "/dms",
                Some(&bob_token),
                Some(json!({"recipient_ids": [alice.to_string(), mallory.to_string()]})),
            )
            .await;
        assert_eq!(reply.status, 404, "{:?}", reply.body);
        assert_eq!(
            api.ok(200, "GET", "/dms", &bob_token, None).await,
            json!([])
        );

        // Once in the community, mallory can; the DM outlives the stay.
        api.join(&mallory_token, &code).await;
        let dm = api.dm(&mallory_token, alice).await;
        let joined = alice_ws.recv_op("room_joined").await;
        assert_eq!(joined["room"], format!("dm:{dm}"));
        api.ok(
            204,
            "DELETE",
            &format!("/users/@me/communities/{community}"),
            &mallory_token,
            None,
        )
        .await;
        assert_eq!(api.dm(&alice_token, mallory).await, dm);
    })
    .await;
}

#[tokio::test]
async fn a_participant_leaves_a_group_dm_and_hears_nothing_more() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let g = api.guild().await;
        let ((alice, alice_t), (bob, bob_t), (carol, carol_t)) = (g.alice, g.bob, g.carol);
        let group = api
            .ok(
                200,
                "POST",
                "/dms",
                &alice_t,
                Some(json!({"recipient_ids": [bob.to_string(), carol.to_string()]})),
            )
            .await;
        let group_id = id(&group["id"]);
        let room = format!("dm:{group_id}");
        let one_to_one = api.dm(&alice_t, carol).await;
        let mut alice_ws = server.client(alice).await;
        let mut carol_phone = server.client(carol).await;
        let mut carol_laptop = server.client(carol).await;
        api.ok(
            200,
            "PUT",
            &format!("/channels/{group_id}/voice"),
            &carol_t,
            None,
        )
        .await;

        // Only a participant may leave, only a group DM, and only once.
        let leave = format!("/users/@me/dms/{group_id}");
        let (_, dave_t) = api.register("dave").await;
        assert_eq!(
            api.call("DELETE", &leave, Some(&dave_t), None).await.status,
            404
        );
        let r = api
            .call(
                "DELETE",
                &format!("/users/@me/dms/{one_to_one}"),
                Some(&carol_t),
                None,
            )
            .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        api.ok(204, "DELETE", &leave, &carol_t, None).await;
        assert_eq!(
            api.call("DELETE", &leave, Some(&carol_t), None)
                .await
                .status,
            404
        );

        for ws in [&mut carol_phone, &mut carol_laptop] {
            // Out of the call first, while still in the room.
            let ev = next_event(ws, &room, "DM_VOICE_USER_LEFT").await;
            assert_eq!(id(&ev["data"]["state"]["user_id"]), carol);
            let ev = next_event(ws, &room, "DM_RECIPIENT_LEFT").await;
            assert_eq!(id(&ev["data"]["channel_id"]), group_id);
            assert_eq!(id(&ev["data"]["user_id"]), carol);
            let left = ws.recv_op("room_left").await;
            assert_eq!(left["room"], room);
            assert_eq!(left["reason"], "left");
        }
        let ev = next_event(&mut alice_ws, &room, "DM_RECIPIENT_LEFT").await;
        assert_eq!(id(&ev["data"]["user_id"]), carol);

        // The channel changed: two participants, a newer version.
        let dms = api.ok(200, "GET", "/dms", &alice_t, None).await;
        let now = dms
            .as_array()
            .unwrap()
            .iter()
            .find(|c| id(&c["id"]) == group_id)
            .unwrap();
        let mut ids: Vec<i64> = now["recipient_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect();
        ids.sort();
        let mut want = vec![alice, bob];
        want.sort();
        assert_eq!(ids, want);
        assert!(now["version"].as_i64() > group["version"].as_i64(), "{now}");
        let theirs = api.ok(200, "GET", "/dms", &carol_t, None).await;
        assert!(
            theirs
                .as_array()
                .unwrap()
                .iter()
                .all(|c| id(&c["id"]) != group_id),
            "{theirs}"
        );
        let voice = api
            .ok(
                200,
                "GET",
                &format!("/channels/{group_id}/voice"),
                &alice_t,
                None,
            )
            .await;
        assert!(voice.as_array().unwrap().is_empty(), "{voice}");

        // Nothing more reaches the leaver; the others go on.
        let sent = api.send(&bob_t, group_id, "after carol left").await;
        let ev = next_event(&mut alice_ws, &room, "NEW_DM").await;
        assert_eq!(ev["data"]["message"]["id"], sent["id"]);
        for ws in [&mut carol_phone, &mut carol_laptop] {
            let seen = drain(ws).await;
            assert!(seen.iter().all(|e| e["room"] != room), "{seen:?}");
        }
        let r = api
            .call(
                "GET",
                &format!("/channels/{group_id}/messages"),
                Some(&carol_t),
                None,
            )
            .await;
        assert_eq!(r.status, 404, "{:?}", r.body);
    })
    .await;
}

/// The ids of a page of `GET /dms{query}`, and its `Link` to the next.
async fn dm_page(api: &Api, token: &str, query: &str) -> (Vec<i64>, Option<String>) {
    let r = api
        .call("GET", &format!("/dms{query}"), Some(token), None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ids = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| id(&c["id"]))
        .collect();
    (ids, r.header("link").map(str::to_owned))
}

#[tokio::test]
async fn dms_are_listed_in_pages() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let g = api.guild().await;
        let alice = &g.alice.1;
        let with_bob = api.dm(alice, g.bob.0).await;
        let with_carol = api.dm(alice, g.carol.0).await;
        assert_eq!(
            dm_page(&api, alice, "").await,
            (vec![with_carol, with_bob], None)
        );
        // A full page links to the next one.
        let (first, link) = dm_page(&api, alice, "?limit=1").await;
        assert_eq!(first, [with_carol]);
        let link = link.expect("a Link to the next page");
        let next = link
            .strip_prefix("</api/v1")
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .unwrap_or_else(|| panic!("{link}"));
        let (second, _) = dm_page(&api, alice, next.strip_prefix("/dms").unwrap()).await;
        assert_eq!(second, [with_bob]);
        // A message makes the older DM the most recently active.
        api.send(alice, with_bob, "hello again").await;
        assert_eq!(dm_page(&api, alice, "").await.0, [with_bob, with_carol]);
        for bad in ["?limit=0", "?limit=101", "?limit=x", "?before=x"] {
            let r = api
                .call("GET", &format!("/dms{bad}"), Some(alice), None)
                .await;
            assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
        }
    })
    .await;
}
