//! Leaving a community over real sockets: the leaver's devices and the
//! other members hear `MEMBER_LEFT_COMMUNITY`, the leaver leaves voice
//! and every room of the community (reason `left`) and receives nothing
//! more from it, the owner cannot leave, and an invite brings the leaver
//! back. Runs on SQLite and, when configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, drain, each_backend, id, next_event};
use serde_json::json;

#[tokio::test]
async fn a_member_leaves_and_hears_nothing_more() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let (alice, alice_t) = api.register("alice").await;
        let (bob, bob_t) = api.register("bob").await;
        let community = api.community(&alice_t, "Guild").await;
        let general = api.channel(&alice_t, community, "general", false).await;
        let lounge = id(&api
            .ok(
                201,
                "POST",
                &format!("/communities/{community}/channels"),
                &alice_t,
                Some(json!({"name": "lounge", "kind": "voice"})),
            )
            .await["id"]);
        let code = api.invite(&alice_t, community).await;
        api.join(&bob_t, &code).await;
        let croom = format!("community:{community}");
        let groom = format!("channel:{general}");
        let lroom = format!("channel:{lounge}");

        let mut alice_ws = server.client(alice).await;
        let mut bob_phone = server.client(bob).await;
        let mut bob_laptop = server.client(bob).await;
        api.ok(
            200,
            "PUT",
            &format!("/channels/{lounge}/voice"),
            &bob_t,
            None,
        )
        .await;

        // A stranger and the owner cannot leave; a member can, once.
        let (_, carol_t) = api.register("carol").await;
        let leave = format!("/users/@me/communities/{community}");
        assert_eq!(
            api.call("DELETE", &leave, Some(&carol_t), None)
                .await
                .status,
            404
        );
        let r = api.call("DELETE", &leave, Some(&alice_t), None).await;
        assert_eq!(r.status, 409, "{:?}", r.body);
        assert_eq!(r.code(), "CONFLICT");
        api.ok(204, "DELETE", &leave, &bob_t, None).await;
        assert_eq!(
            api.call("DELETE", &leave, Some(&bob_t), None).await.status,
            404
        );

        for ws in [&mut bob_phone, &mut bob_laptop] {
            let ev = next_event(ws, &croom, "MEMBER_LEFT_COMMUNITY").await;
            assert_eq!(id(&ev["data"]["community_id"]), community);
            assert_eq!(id(&ev["data"]["user_id"]), bob);
            // Their own devices hear them leave voice, before its room.
            let ev = next_event(ws, &lroom, "VOICE_CHANNEL_USER_LEFT").await;
            assert_eq!(id(&ev["data"]["state"]["user_id"]), bob);
            let mut left = Vec::new();
            while left.len() < 3 {
                let frame = ws.recv().await;
                if frame["op"] == "room_left" {
                    assert_eq!(frame["reason"], "left", "{frame}");
                    left.push(frame["room"].as_str().unwrap().to_string());
                }
            }
            left.sort();
            let mut want = vec![croom.clone(), groom.clone(), lroom.clone()];
            want.sort();
            assert_eq!(left, want);
        }
        let ev = next_event(&mut alice_ws, &croom, "MEMBER_LEFT_COMMUNITY").await;
        assert_eq!(id(&ev["data"]["user_id"]), bob);
        let voice = api
            .ok(
                200,
                "GET",
                &format!("/channels/{lounge}/voice"),
                &alice_t,
                None,
            )
            .await;
        assert!(
            voice.as_array().unwrap().is_empty(),
            "the leaver left voice: {voice}"
        );
        let members = api
            .ok(
                200,
                "GET",
                &format!("/communities/{community}/members"),
                &alice_t,
                None,
            )
            .await;
        assert!(
            members
                .as_array()
                .unwrap()
                .iter()
                .all(|m| id(&m["user"]["id"]) != bob),
            "{members}"
        );

        // Nothing more reaches the leaver, and its REST reads are refused.
        api.send(&alice_t, general, "after bob left").await;
        api.ok(
            200,
            "PATCH",
            &format!("/communities/{community}"),
            &alice_t,
            Some(json!({"name": "Guild 2"})),
        )
        .await;
        next_event(&mut alice_ws, &croom, "COMMUNITY_UPDATED").await;
        for ws in [&mut bob_phone, &mut bob_laptop] {
            let seen = drain(ws).await;
            assert!(
                seen.iter()
                    .all(|e| e["room"] != croom && e["room"] != groom),
                "a leaver still received community events: {seen:?}"
            );
        }
        assert_eq!(
            api.call(
                "GET",
                &format!("/communities/{community}"),
                Some(&bob_t),
                None
            )
            .await
            .status,
            404
        );
        let r = api
            .call(
                "POST",
                &format!("/channels/{general}/messages"),
                Some(&bob_t),
                Some(json!({"content": "still here?"})),
            )
            .await;
        assert_eq!(r.status, 404, "{:?}", r.body);

        // An invite brings them back, rooms and all.
        api.join(&bob_t, &code).await;
        let joined = bob_phone.recv_op("room_joined").await;
        assert!(
            joined["room"] == croom || joined["room"] == groom || joined["room"] == lroom,
            "{joined}"
        );
        let sent = api.send(&alice_t, general, "welcome back").await;
        let ev = next_event(&mut bob_phone, &groom, "NEW_MESSAGE").await;
        assert_eq!(ev["data"]["message"]["id"], sent["id"]);
    })
    .await;
}
