//! Reactions and pins over real sockets: REACTION_ADDED/REMOVED and
//! MESSAGE_PINNED/UNPINNED reach the message's room (channel or DM) with
//! the new version; nobody outside it receives them; reacting in a channel
//! one cannot see is NOT_FOUND and changes nothing; ADD_REACTIONS and
//! PIN_MESSAGES are enforced. Runs on SQLite and, when configured,
//! PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, Guild, drain, each_backend, id, next_event};
use chinwag_protocol::permissions::*;
use serde_json::json;

#[tokio::test]
async fn reactions_and_pins_reach_only_viewers() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let Guild {
            alice: (alice, alice_t),
            bob: (bob, bob_t),
            carol: (carol, carol_t),
            community,
            general,
            staff,
        } = api.guild().await;
        // Staff is hidden from @everyone except bob.
        api.ok(
            204,
            "PUT",
            &format!("/channels/{staff}/overrides/role/{community}"),
            &alice_t,
            Some(json!({"deny": VIEW_CHANNEL})),
        )
        .await;
        api.ok(
            204,
            "PUT",
            &format!("/channels/{staff}/overrides/user/{bob}"),
            &alice_t,
            Some(json!({"allow": VIEW_CHANNEL})),
        )
        .await;
        let groom = format!("channel:{general}");
        let sroom = format!("channel:{staff}");

        let mut alice_ws = server.client(alice).await;
        let mut bob_ws = server.client(bob).await;
        let mut carol_ws = server.client(carol).await;

        let msg = api.send(&alice_t, general, "react to me").await;
        let mid = id(&msg["id"]);
        let version = msg["version"].as_i64().unwrap();
        let r = api
            .ok(
                200,
                "PUT",
                &format!("/messages/{mid}/reactions/%F0%9F%91%8D"),
                &bob_t,
                None,
            )
            .await;
        assert_eq!(r["reaction"]["count"], 1);
        for ws in [&mut alice_ws, &mut carol_ws] {
            let ev = next_event(ws, &groom, "REACTION_ADDED").await;
            assert_eq!(ev["data"]["reaction"]["emoji"], "👍");
            assert_eq!(id(&ev["data"]["user_id"]), bob);
            assert!(ev["data"]["version"].as_i64().unwrap() > version);
        }
        api.ok(
            200,
            "DELETE",
            &format!("/messages/{mid}/reactions/%F0%9F%91%8D"),
            &bob_t,
            None,
        )
        .await;
        let ev = next_event(&mut carol_ws, &groom, "REACTION_REMOVED").await;
        assert_eq!(ev["data"]["reaction"]["count"], 0);

        // Staff: bob's reaction reaches alice and bob, never carol; carol
        // cannot react there (NOT_FOUND) and nothing changes.
        let secret = api.send(&alice_t, staff, "secret").await;
        let sid = id(&secret["id"]);
        let r = api
            .call(
                "PUT",
                &format!("/messages/{sid}/reactions/x"),
                Some(&carol_t),
                None,
            )
            .await;
        assert_eq!(r.status, 404, "{:?}", r.body);
        let stored = api
            .ok(200, "GET", &format!("/messages/{sid}"), &alice_t, None)
            .await;
        assert!(stored["reactions"].as_array().unwrap().is_empty());
        assert_eq!(stored["version"], secret["version"]);
        api.ok(
            200,
            "PUT",
            &format!("/messages/{sid}/reactions/x"),
            &bob_t,
            None,
        )
        .await;
        next_event(&mut alice_ws, &sroom, "REACTION_ADDED").await;
        let seen = drain(&mut carol_ws).await;
        assert!(seen.iter().all(|e| e["room"] != sroom), "{seen:?}");

        // ADD_REACTIONS denied for carol in general: 403, nothing stored.
        api.ok(
            204,
            "PUT",
            &format!("/channels/{general}/overrides/user/{carol}"),
            &alice_t,
            Some(json!({"deny": ADD_REACTIONS})),
        )
        .await;
        let r = api
            .call(
                "PUT",
                &format!("/messages/{mid}/reactions/y"),
                Some(&carol_t),
                None,
            )
            .await;
        assert_eq!(r.status, 403, "{:?}", r.body);

        // Pins: bob lacks PIN_MESSAGES; alice pins and unpins.
        let r = api
            .call("PUT", &format!("/messages/{mid}/pin"), Some(&bob_t), None)
            .await;
        assert_eq!(r.status, 403);
        let pinned = api
            .ok(200, "PUT", &format!("/messages/{mid}/pin"), &alice_t, None)
            .await;
        assert_eq!(pinned["pinned"], true);
        for ws in [&mut bob_ws, &mut carol_ws] {
            let ev = next_event(ws, &groom, "MESSAGE_PINNED").await;
            assert_eq!(id(&ev["data"]["message_id"]), mid);
            assert_eq!(ev["data"]["version"], pinned["version"]);
        }
        let pins = api
            .ok(
                200,
                "GET",
                &format!("/channels/{general}/pins"),
                &carol_t,
                None,
            )
            .await;
        assert_eq!(pins.as_array().unwrap().len(), 1);
        api.ok(
            200,
            "DELETE",
            &format!("/messages/{mid}/pin"),
            &alice_t,
            None,
        )
        .await;
        next_event(&mut carol_ws, &groom, "MESSAGE_UNPINNED").await;

        // DMs: reactions and pins go to dm:{id}; carol sees nothing.
        let dm = api
            .ok(
                200,
                "POST",
                "/dms",
                &alice_t,
                Some(json!({"recipient_id": bob.to_string()})),
            )
            .await;
        let dm = id(&dm["id"]);
        let dmroom = format!("dm:{dm}");
        let dmsg = api.send(&bob_t, dm, "hi").await;
        let dmid = id(&dmsg["id"]);
        api.ok(
            200,
            "PUT",
            &format!("/messages/{dmid}/reactions/wave"),
            &alice_t,
            None,
        )
        .await;
        next_event(&mut bob_ws, &dmroom, "REACTION_ADDED").await;
        api.ok(200, "PUT", &format!("/messages/{dmid}/pin"), &bob_t, None)
            .await;
        next_event(&mut alice_ws, &dmroom, "MESSAGE_PINNED").await;
        let r = api
            .call(
                "PUT",
                &format!("/messages/{dmid}/reactions/x"),
                Some(&carol_t),
                None,
            )
            .await;
        assert_eq!(r.status, 404);
        let seen = drain(&mut carol_ws).await;
        assert!(seen.iter().all(|e| e["room"] != dmroom), "{seen:?}");
    })
    .await;
}

/// A client cache of one message that applies an event only when its
/// version is newer (protocol §5.3).
#[derive(Debug, PartialEq)]
struct CachedMessage {
    version: i64,
    pinned: bool,
    content: String,
    likes: i64,
}

impl CachedMessage {
    fn apply(&mut self, event: &serde_json::Value) {
        let data = &event["data"];
        let version = data["version"]
            .as_i64()
            .or_else(|| data["message"]["version"].as_i64())
            .unwrap_or_else(|| panic!("no version in {event}"));
        if version <= self.version {
            return;
        }
        self.version = version;
        match event["type"].as_str().unwrap() {
            "MESSAGE_PINNED" => self.pinned = true,
            "MESSAGE_UNPINNED" => self.pinned = false,
            "UPDATE_MESSAGE" => {
                self.content = data["message"]["content"].as_str().unwrap().into();
                self.pinned = data["message"]["pinned"].as_bool().unwrap();
            }
            "REACTION_ADDED" | "REACTION_REMOVED" => {
                self.likes = data["reaction"]["count"].as_i64().unwrap();
            }
            other => panic!("unexpected {other}"),
        }
    }
}

#[tokio::test]
async fn racing_pins_edits_and_reactions_leave_every_cache_true() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let g = api.guild().await;
        let room = format!("channel:{}", g.general);
        let mut carol_ws = server.client(g.carol.0).await;
        for round in 0..12 {
            let msg = api.send(&g.alice.1, g.general, "race me").await;
            let mid = id(&msg["id"]);
            let mut cache = CachedMessage {
                version: msg["version"].as_i64().unwrap(),
                pinned: false,
                content: "race me".into(),
                likes: 0,
            };
            let pin = format!("/messages/{mid}/pin");
            let like = format!("/messages/{mid}/reactions/%F0%9F%91%8D");
            let message = format!("/messages/{mid}");
            let edit = json!({"content": format!("edited {round}")});
            let (a, b, c, d) = tokio::join!(
                api.call("PUT", &pin, Some(&g.alice.1), None),
                api.call("DELETE", &pin, Some(&g.alice.1), None),
                api.call("PUT", &like, Some(&g.bob.1), None),
                api.call("PATCH", &message, Some(&g.alice.1), Some(edit)),
            );
            for reply in [a, b, c, d] {
                assert_eq!(reply.status, 200, "{:?}", reply.body);
            }
            // A marker message behind them: once it is in, so is every
            // event of the race (the room is ordered).
            let marker = api.send(&g.bob.1, g.general, "marker").await;
            loop {
                let event = carol_ws.recv_in(&room).await;
                if event["data"]["message"]["id"] == marker["id"] {
                    break;
                }
                if event["type"] != "NEW_MESSAGE" {
                    cache.apply(&event);
                }
            }
            let now = api.ok(200, "GET", &message, &g.carol.1, None).await;
            let truth = CachedMessage {
                version: now["version"].as_i64().unwrap(),
                pinned: now["pinned"].as_bool().unwrap(),
                content: now["content"].as_str().unwrap().into(),
                likes: now["reactions"][0]["count"].as_i64().unwrap(),
            };
            assert_eq!(cache, truth, "round {round}");
        }
    })
    .await;
}
