//! Moderation over real sockets: timeouts (USER_TIMED_OUT, TIMED_OUT on
//! send, react, edit and pin, TIMEOUT_REMOVED), kicks and bans (the target sees the event, then
//! leaves every room of the community and receives nothing more from it),
//! unbans, and the role hierarchy (a moderator cannot touch an admin or
//! the owner, nor rewrite or lift their bans). Runs on SQLite and, when configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, drain, each_backend, id, next_event};
use chinwag_protocol::permissions::*;
use serde_json::{Value, json};

async fn next_control(ws: &mut chat_support::support::Client, op: &str, room: &str) -> Value {
    loop {
        let frame = ws.recv().await;
        if frame["op"] == op && frame["room"] == room {
            return frame;
        }
    }
}

#[tokio::test]
async fn kick_ban_timeout_and_hierarchy() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let (alice, alice_t) = api.register("alice").await;
        let (bob, bob_t) = api.register("bob").await;
        let (carol, carol_t) = api.register("carol").await;
        let (dave, dave_t) = api.register("dave").await;
        let (erin, erin_t) = api.register("erin").await;
        let community = api.community(&alice_t, "Guild").await;
        let general = api.channel(&alice_t, community, "general", false).await;
        let code = api.invite(&alice_t, community).await;
        for t in [&bob_t, &carol_t, &dave_t, &erin_t] {
            api.join(t, &code).await;
        }
        let croom = format!("community:{community}");
        let groom = format!("channel:{general}");
        let roles = api
            .ok(200, "GET", &format!("/communities/{community}/roles"), &alice_t, None)
            .await;
        let admin = roles.as_array().unwrap().iter().find(|r| r["name"] == "Admin").unwrap();
        let admin = id(&admin["id"]);
        let moderator = api
            .ok(201, "POST", &format!("/communities/{community}/roles"), &alice_t,
                Some(json!({"name": "Mod", "position": 10,
                            "permissions": EVERYONE_DEFAULT | KICK_MEMBERS | BAN_MEMBERS | TIMEOUT_MEMBERS})))
            .await;
        let moderator = id(&moderator["id"]);
        api.ok(204, "PUT", &format!("/communities/{community}/members/{bob}/roles/{moderator}"), &alice_t, None).await;
        api.ok(204, "PUT", &format!("/communities/{community}/members/{erin}/roles/{admin}"), &alice_t, None).await;

        let mut alice_ws = server.client(alice).await;
        let mut carol_ws = server.client(carol).await;
        let mut dave_ws = server.client(dave).await;

        // Plain members moderate nobody.
        let r = api.call("DELETE", &format!("/communities/{community}/members/{dave}"), Some(&carol_t), None).await;
        assert_eq!(r.status, 403, "{:?}", r.body);

        // Hierarchy: the moderator cannot ban an admin or kick the owner,
        // and an admin cannot ban the owner; nothing changes.
        for (method, path) in [
            ("PUT", format!("/communities/{community}/bans/{erin}")),
            ("DELETE", format!("/communities/{community}/members/{erin}")),
            ("PUT", format!("/communities/{community}/bans/{alice}")),
            ("DELETE", format!("/communities/{community}/members/{alice}")),
        ] {
            let r = api.call(method, &path, Some(&bob_t), None).await;
            assert_eq!(r.status, 403, "{method} {path}: {:?}", r.body);
        }
        let r = api.call("PUT", &format!("/communities/{community}/members/{erin}/timeout"), Some(&bob_t),
                         Some(json!({"duration_secs": 60}))).await;
        assert_eq!(r.status, 403);
        let r = api.call("PUT", &format!("/communities/{community}/bans/{alice}"), Some(&erin_t), None).await;
        assert_eq!(r.status, 403);
        let members = api.ok(200, "GET", &format!("/communities/{community}/members"), &alice_t, None).await;
        assert_eq!(members.as_array().unwrap().len(), 5, "every refused attack changed nothing");
        assert!(api.ok(200, "GET", &format!("/communities/{community}/bans"), &alice_t, None).await
            .as_array().unwrap().is_empty());
        let still_here = id(&api.send(&erin_t, general, "still here").await["id"]);
        let pinner = api
            .ok(201, "POST", &format!("/communities/{community}/roles"), &alice_t,
                Some(json!({"name": "Pinner", "position": 5, "permissions": EVERYONE_DEFAULT | PIN_MESSAGES})))
            .await;
        api.ok(204, "PUT", &format!("/communities/{community}/members/{carol}/roles/{}", id(&pinner["id"])), &alice_t, None).await;
        let carols = id(&api.send(&carol_t, general, "said before").await["id"]);

        // Timeout: USER_TIMED_OUT to the community; carol cannot send.
        let member = api
            .ok(200, "PUT", &format!("/communities/{community}/members/{carol}/timeout"), &bob_t,
                Some(json!({"duration_secs": 600})))
            .await;
        assert!(member["timed_out_until"].as_i64().is_some());
        for ws in [&mut carol_ws, &mut dave_ws] {
            let ev = next_event(ws, &croom, "USER_TIMED_OUT").await;
            assert_eq!(id(&ev["data"]["user_id"]), carol);
        }
        let r = api.call("POST", &format!("/channels/{general}/messages"), Some(&carol_t),
                         Some(json!({"content": "let me talk"}))).await;
        assert_eq!(r.code(), "TIMED_OUT", "{:?}", r.body);
        let r = api.call("PUT", &format!("/messages/{still_here}/reactions/x"), Some(&carol_t), None).await;
        assert_eq!(r.code(), "TIMED_OUT", "a timed-out member cannot react either: {:?}", r.body);
        let r = api.call("PATCH", &format!("/messages/{carols}"), Some(&carol_t),
                         Some(json!({"content": "said while timed out"}))).await;
        assert_eq!(r.code(), "TIMED_OUT", "nor edit: {:?}", r.body);
        let r = api.call("PUT", &format!("/messages/{carols}/pin"), Some(&carol_t), None).await;
        assert_eq!(r.code(), "TIMED_OUT", "nor pin: {:?}", r.body);
        carol_ws
            .send(json!({"op": "typing", "channel_id": general.to_string()}))
            .await;
        let refused = carol_ws.recv_op("error").await;
        assert_eq!(refused["code"], "TIMED_OUT", "nor type: {refused}");
        let unchanged = api.ok(200, "GET", &format!("/messages/{carols}"), &alice_t, None).await;
        assert_eq!((&unchanged["content"], &unchanged["pinned"]), (&json!("said before"), &json!(false)));
        api.ok(204, "DELETE", &format!("/communities/{community}/members/{carol}/timeout"), &bob_t, None).await;
        api.ok(200, "PUT", &format!("/messages/{still_here}/reactions/x"), &carol_t, None).await;
        let ev = next_event(&mut dave_ws, &croom, "TIMEOUT_REMOVED").await;
        assert_eq!(id(&ev["data"]["user_id"]), carol);
        api.send(&carol_t, general, "free again").await;

        // Dave is in a voice channel; a kick takes him out of it.
        let lounge = id(&api
            .ok(201, "POST", &format!("/communities/{community}/channels"), &alice_t,
                Some(json!({"name": "lounge", "kind": "voice"})))
            .await["id"]);
        api.ok(200, "PUT", &format!("/channels/{lounge}/voice"), &dave_t, None).await;

        // Kick: dave sees USER_KICKED, then leaves the community's rooms.
        api.ok(204, "DELETE", &format!("/communities/{community}/members/{dave}"), &bob_t, None).await;
        let ev = next_event(&mut dave_ws, &croom, "USER_KICKED").await;
        assert_eq!(id(&ev["data"]["user_id"]), dave);
        // His own devices hear him leave voice, before he leaves its room.
        let ev = next_event(&mut dave_ws, &format!("channel:{lounge}"), "VOICE_CHANNEL_USER_LEFT").await;
        assert_eq!(id(&ev["data"]["state"]["user_id"]), dave);
        let mut left = Vec::new();
        while left.len() < 2 {
            let frame = dave_ws.recv().await;
            if frame["op"] == "room_left" {
                assert_eq!(frame["reason"], "kicked");
                left.push(frame["room"].as_str().unwrap().to_string());
            }
        }
        left.sort();
        let mut want = vec![groom.clone(), croom.clone()];
        want.sort();
        assert_eq!(left, want);
        let ev = next_event(&mut carol_ws, &croom, "USER_KICKED").await;
        assert_eq!(id(&ev["data"]["user_id"]), dave);
        assert_eq!(api.call("GET", &format!("/communities/{community}"), Some(&dave_t), None).await.status, 404);

        let voice = api.ok(200, "GET", &format!("/channels/{lounge}/voice"), &alice_t, None).await;
        assert!(voice.as_array().unwrap().is_empty(), "the kicked user left voice: {voice}");

        // Ban: carol sees USER_BANNED, leaves, and gets nothing more.
        let ban = api
            .ok(200, "PUT", &format!("/communities/{community}/bans/{carol}"), &bob_t,
                Some(json!({"reason": "spam"})))
            .await;
        assert_eq!(ban["reason"], "spam");
        let ev = next_event(&mut carol_ws, &croom, "USER_BANNED").await;
        assert_eq!(id(&ev["data"]["user_id"]), carol);
        let frame = next_control(&mut carol_ws, "room_left", &groom).await;
        assert_eq!(frame["reason"], "banned");
        api.send(&alice_t, general, "after the ban").await;
        api.ok(200, "PATCH", &format!("/communities/{community}"), &alice_t, Some(json!({"name": "Guild 2"}))).await;
        for ws in [&mut carol_ws, &mut dave_ws] {
            let seen = drain(ws).await;
            assert!(
                seen.iter().all(|e| e["room"] != croom && e["room"] != groom),
                "a removed user still received community events: {seen:?}"
            );
        }
        let r = api.call("POST", &format!("/invites/{code}/join"), Some(&carol_t), None).await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        let bans = api.ok(200, "GET", &format!("/communities/{community}/bans"), &bob_t, None).await;
        assert_eq!(bans.as_array().unwrap().len(), 1);
        let paged = format!("/communities/{community}/bans?after={carol}&limit=10");
        assert!(api.ok(200, "GET", &paged, &bob_t, None).await.as_array().unwrap().is_empty());
        let bad = format!("/communities/{community}/bans?limit=0");
        assert_eq!(api.call("GET", &bad, Some(&bob_t), None).await.status, 400);
        // Banning her again only changes the reason: no second USER_BANNED.
        drain(&mut alice_ws).await;
        let again = api
            .ok(200, "PUT", &format!("/communities/{community}/bans/{carol}"), &bob_t,
                Some(json!({"reason": "still spam"})))
            .await;
        assert_eq!(again["reason"], "still spam");
        let seen = drain(&mut alice_ws).await;
        assert!(seen.iter().all(|e| e["type"] != "USER_BANNED"), "{seen:?}");
        // Removing an override that is not there changes nothing either.
        api.ok(204, "DELETE", &format!("/channels/{general}/overrides/user/{erin}"), &alice_t, None).await;
        let seen = drain(&mut alice_ws).await;
        assert!(seen.iter().all(|e| e["type"] != "CHANNEL_UPDATED"), "{seen:?}");

        // A ban by someone ranked above bob (erin, an admin; then the
        // owner) is not bob's to rewrite or lift.
        for banner in [&erin_t, &alice_t] {
            api.ok(200, "PUT", &format!("/communities/{community}/bans/{carol}"), banner,
                Some(json!({"reason": "by a higher rank"})))
                .await;
            for (method, body) in [("PUT", Some(json!({"reason": "mine now"}))), ("DELETE", None)] {
                let r = api.call(method, &format!("/communities/{community}/bans/{carol}"), Some(&bob_t), body).await;
                assert_eq!(r.status, 403, "{method}: {:?}", r.body);
            }
        }
        let bans = api.ok(200, "GET", &format!("/communities/{community}/bans"), &bob_t, None).await;
        assert_eq!(bans[0]["reason"], "by a higher rank");
        assert_eq!(id(&bans[0]["actor_id"]), alice);

        // Unban: carol may rejoin; the kicked dave may rejoin too.
        api.ok(204, "DELETE", &format!("/communities/{community}/bans/{carol}"), &alice_t, None).await;
        api.join(&carol_t, &code).await;
        api.join(&dave_t, &code).await;
        // Bob lifts a ban he placed himself.
        api.ok(200, "PUT", &format!("/communities/{community}/bans/{dave}"), &bob_t, None).await;
        api.ok(204, "DELETE", &format!("/communities/{community}/bans/{dave}"), &bob_t, None).await;
    })
    .await;
}
