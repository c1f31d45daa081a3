//! Presence in the chat domain over real sockets: a user's first connection
//! announces USER_ONLINE in each of their communities and DMs (and not in
//! their channels), the last one leaving announces USER_OFFLINE there after
//! the grace period; `GET /users/presences` reads current presence, for the
//! users the caller may see. Runs on SQLite and, when configured,
//! PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, drain, each_backend, next_event, support};
use serde_json::{Value, json};

/// The next `ty` presence event about `user` in `room`.
async fn presence_of(client: &mut support::Client, room: &str, ty: &str, user: i64) -> Value {
    let user = user.to_string();
    loop {
        let event = next_event(client, room, ty).await;
        if event["data"]["presence"]["user_id"] == user.as_str() {
            return event;
        }
    }
}

#[tokio::test]
async fn a_connect_announces_presence_in_each_community_and_dm() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let (alice, alice_token) = api.register("alice").await;
        let (bob, bob_token) = api.register("bob").await;
        let (carol, carol_token) = api.register("carol").await;
        let community = api.community(&alice_token, "Guild").await;
        let general = api.channel(&alice_token, community, "general", false).await;
        let code = api.invite(&alice_token, community).await;
        api.join(&bob_token, &code).await;
        let dm = api.dm_via_community(&carol_token, &bob_token, bob).await;
        let dm_room = format!("dm:{dm}");
        let community_room = format!("community:{community}");
        let mut alice_ws = server.client(alice).await;
        let mut carol_ws = server.client(carol).await;

        let bob_ws = server.client(bob).await;
        for (client, room) in [(&mut alice_ws, &community_room), (&mut carol_ws, &dm_room)] {
            let online = presence_of(client, room, "USER_ONLINE", bob).await;
            assert_eq!(online["data"]["presence"]["status"], "online");
        }
        // Not in the channel, and not again for a second device.
        let bob_phone = server.client(bob).await;
        let seen = drain(&mut alice_ws).await;
        assert!(
            seen.iter()
                .all(|e| e["room"] != format!("channel:{general}") && e["type"] != "USER_ONLINE"),
            "{seen:?}"
        );
        drop(bob_ws);
        drop(bob_phone);
        for (client, room) in [(&mut alice_ws, &community_room), (&mut carol_ws, &dm_room)] {
            let offline = presence_of(client, room, "USER_OFFLINE", bob).await;
            assert_eq!(offline["data"]["presence"]["status"], "offline");
        }
    })
    .await;
}

#[tokio::test]
async fn a_url_token_client_resumes_after_ready_past_its_own_online() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let (alice, alice_token) = api.register("alice").await;
        let (bob, bob_token) = api.register("bob").await;
        let community = api.community(&alice_token, "Guild").await;
        let code = api.invite(&alice_token, community).await;
        api.join(&bob_token, &code).await;
        let room = format!("community:{community}");
        let mut alice_ws = server.client(alice).await;

        // Bob's last position in the room: from `ready`, or the last
        // event he saw there.
        let mut bob_ws = server.client(bob).await;
        let (epoch, mut offset) = support::position(&bob_ws.ready, &room);
        for event in drain(&mut bob_ws).await {
            if event["room"] == room.as_str() {
                offset = offset.max(event["offset"].as_u64().unwrap());
            }
        }
        drop(bob_ws);
        presence_of(&mut alice_ws, &room, "USER_OFFLINE", bob).await;
        // Missed while away.
        api.ok(
            200,
            "PATCH",
            &format!("/communities/{community}"),
            &alice_token,
            Some(json!({"name": "Renamed"})),
        )
        .await;

        // Back with the token in the URL, which cannot carry positions:
        // `resume` right after `ready`, as the protocol says. The
        // reconnect's own USER_ONLINE must not make the room `live_ahead`.
        let mut bob_ws = server.client(bob).await;
        bob_ws
            .send(json!({"op": "resume", "rooms": {room.as_str(): {"epoch": epoch, "offset": offset}}}))
            .await;
        let mut replayed = Vec::new();
        let resumed = loop {
            let frame = bob_ws.recv().await;
            match frame["op"].as_str() {
                Some("resumed") => break frame,
                Some("event") if frame["room"] == room.as_str() => replayed.push(frame),
                _ => {}
            }
        };
        assert_eq!(resumed["resync"], json!([]), "{resumed}");
        assert!(
            replayed.iter().any(|e| e["type"] == "COMMUNITY_UPDATED"),
            "{replayed:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn current_presence_is_read_for_visible_users_only() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let (alice, alice_token) = api.register("alice").await;
        let (bob, bob_token) = api.register("bob").await;
        let (carol, _) = api.register("carol").await;
        let community = api.community(&alice_token, "Guild").await;
        let code = api.invite(&alice_token, community).await;
        api.join(&bob_token, &code).await;
        let mut alice_ws = server.client(alice).await;
        alice_ws
            .send(json!({"op": "set_status", "status": "dnd"}))
            .await;
        let croom = format!("community:{community}");
        let dnd = loop {
            let ev = presence_of(&mut alice_ws, &croom, "USER_ONLINE", alice).await;
            if ev["data"]["presence"]["status"] == "dnd" {
                break ev;
            }
        };

        // Bob (not connected) sees alice and himself, in the order asked;
        // carol (a stranger) and an unknown id are left out alike.
        let path = format!("/users/presences?user_ids={carol},{alice},424242,{bob},{alice}");
        let read = api.ok(200, "GET", &path, &bob_token, None).await;
        let read = read.as_array().unwrap();
        assert_eq!(read.len(), 2, "{read:?}");
        assert_eq!(read[0], dnd["data"]["presence"]);
        assert_eq!(read[1]["user_id"], bob.to_string());
        assert_eq!(read[1]["status"], "offline");

        // Bad lists are refused.
        let many: Vec<String> = (1..=101).map(|n| n.to_string()).collect();
        for query in [
            "user_ids=",
            "user_ids=1,x",
            "",
            &format!("user_ids={}", many.join(",")),
        ] {
            let r = api
                .call(
                    "GET",
                    &format!("/users/presences?{query}"),
                    Some(&bob_token),
                    None,
                )
                .await;
            assert_eq!(r.status, 400, "{query}: {:?}", r.body);
        }
    })
    .await;
}
