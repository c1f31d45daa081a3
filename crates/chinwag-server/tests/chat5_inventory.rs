//! The event inventory: one scripted scenario over real sockets that
//! triggers every feature, with an observer (the community owner, also the
//! DM partner, mention target and reader) collecting event types. It fails
//! if any `EventKind::ALL` entry was never received. Runs on SQLite and,
//! when configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use std::collections::BTreeSet;

use chat_support::{Api, drain, each_backend, id};
use chinwag_protocol::EventKind;
use chinwag_protocol::permissions::*;
use serde_json::json;

#[tokio::test]
async fn every_event_kind_is_emitted() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let (alice, alice_t) = api.register("alice").await;
        let (bob, bob_t) = api.register("bob").await;
        let (carol, carol_t) = api.register("carol").await;
        let (dave, dave_t) = api.register("dave").await;
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut observer = server.client(alice).await;
        observer.subscribe("public.lobby").await;

        let community = api.community(&alice_t, "Inventory").await;
        let general = api.channel(&alice_t, community, "general", false).await;
        let lounge = id(&api
            .ok(201, "POST", &format!("/communities/{community}/channels"), &alice_t,
                Some(json!({"name": "lounge", "kind": "voice"})))
            .await["id"]);
        let code = api.invite(&alice_t, community).await;
        for t in [&bob_t, &carol_t, &dave_t] {
            api.join(t, &code).await;
        }
        let mut bob_ws = server.client(bob).await; // USER_ONLINE
        bob_ws.send(json!({"op": "publish", "topic": "public.lobby", "data": {"n": 1}, "nonce": "p"})).await;
        bob_ws.recv_op("ack").await;

        // Messages, edits, deletes, threads, mentions.
        let m = api.send(&bob_t, general, &format!("hi <@{alice}>")).await;
        let mid = id(&m["id"]);
        api.ok(200, "PATCH", &format!("/messages/{mid}"), &bob_t, Some(json!({"content": "hello"}))).await;
        let parent = api.send(&alice_t, general, "thread parent").await;
        let reply = api.ok(201, "POST", &format!("/channels/{general}/messages"), &bob_t,
                           Some(json!({"content": "reply", "thread_parent_id": parent["id"]}))).await;
        let rid = id(&reply["id"]);
        api.ok(200, "PATCH", &format!("/messages/{rid}"), &bob_t, Some(json!({"content": "reply!"}))).await;
        api.ok(204, "DELETE", &format!("/messages/{rid}"), &bob_t, None).await;
        // Reactions and pins.
        api.ok(200, "PUT", &format!("/messages/{mid}/reactions/ok"), &bob_t, None).await;
        api.ok(200, "DELETE", &format!("/messages/{mid}/reactions/ok"), &bob_t, None).await;
        api.ok(200, "PUT", &format!("/messages/{mid}/pin"), &alice_t, None).await;
        api.ok(200, "DELETE", &format!("/messages/{mid}/pin"), &alice_t, None).await;
        // Typing.
        bob_ws.send(json!({"op": "typing", "channel_id": general.to_string()})).await;
        // Read receipts and notifications.
        api.ok(200, "PUT", &format!("/channels/{general}/read"), &alice_t, Some(json!({"message_id": m["id"]}))).await;
        let dm = id(&api.ok(200, "POST", "/dms", &bob_t, Some(json!({"recipient_id": alice.to_string()}))).await["id"]);
        api.send(&bob_t, dm, "psst").await;
        // A group DM that carol leaves.
        let group = id(&api.ok(200, "POST", "/dms", &bob_t,
                               Some(json!({"recipient_ids": [alice.to_string(), carol.to_string()]}))).await["id"]);
        api.ok(204, "DELETE", &format!("/users/@me/dms/{group}"), &carol_t, None).await;
        let notes = api.ok(200, "GET", "/users/@me/notifications", &alice_t, None).await;
        let ids: Vec<_> = notes.as_array().unwrap().iter().map(|n| n["id"].clone()).collect();
        assert!(!ids.is_empty());
        api.ok(200, "POST", "/users/@me/notifications/read", &alice_t, Some(json!({"notification_ids": ids}))).await;
        api.ok(204, "DELETE", &format!("/messages/{mid}"), &bob_t, None).await;
        // Structure.
        let extra = api.channel(&alice_t, community, "extra", false).await;
        api.ok(200, "PATCH", &format!("/channels/{extra}"), &alice_t, Some(json!({"topic": "t"}))).await;
        api.ok(200, "PUT", &format!("/communities/{community}/channels/order"), &alice_t,
               Some(json!({"channel_ids": [extra.to_string(), general.to_string(), lounge.to_string()]}))).await;
        api.ok(204, "DELETE", &format!("/channels/{extra}"), &alice_t, None).await;
        api.ok(200, "PATCH", &format!("/communities/{community}"), &alice_t, Some(json!({"name": "Inv"}))).await;
        // Roles.
        let role = id(&api.ok(201, "POST", &format!("/communities/{community}/roles"), &alice_t,
                              Some(json!({"name": "Mod", "position": 5,
                                          "permissions": EVERYONE_DEFAULT | KICK_MEMBERS | BAN_MEMBERS | TIMEOUT_MEMBERS})))
            .await["id"]);
        api.ok(200, "PATCH", &format!("/roles/{role}"), &alice_t, Some(json!({"color": 255}))).await;
        api.ok(204, "PUT", &format!("/communities/{community}/members/{bob}/roles/{role}"), &alice_t, None).await;
        // Moderation by bob.
        api.ok(200, "PUT", &format!("/communities/{community}/members/{carol}/timeout"), &bob_t, Some(json!({"duration_secs": 60}))).await;
        api.ok(204, "DELETE", &format!("/communities/{community}/members/{carol}/timeout"), &bob_t, None).await;
        api.ok(204, "DELETE", &format!("/communities/{community}/members/{dave}"), &bob_t, None).await;
        api.ok(200, "PUT", &format!("/communities/{community}/bans/{carol}"), &bob_t, None).await;
        api.ok(204, "DELETE", &format!("/communities/{community}/members/{bob}/roles/{role}"), &alice_t, None).await;
        api.ok(204, "DELETE", &format!("/roles/{role}"), &alice_t, None).await;
        // Profile.
        api.ok(200, "PATCH", "/users/@me", &bob_t, Some(json!({"display_name": "Bobby"}))).await;
        // Voice: community channel, then a DM call.
        api.ok(200, "PUT", &format!("/channels/{lounge}/voice"), &bob_t, None).await;
        api.ok(200, "PATCH", "/users/@me/voice", &bob_t, Some(json!({"muted": true}))).await;
        api.ok(204, "DELETE", "/users/@me/voice", &bob_t, None).await;
        api.ok(200, "PUT", &format!("/channels/{dm}/voice"), &bob_t, None).await;
        api.ok(200, "PATCH", "/users/@me/voice", &bob_t, Some(json!({"deafened": true}))).await;
        api.ok(204, "DELETE", "/users/@me/voice", &bob_t, None).await;
        // Bob leaves the community, the owner deletes another, and bob
        // goes offline.
        api.ok(204, "DELETE", &format!("/users/@me/communities/{community}"), &bob_t, None).await;
        let doomed = api.community(&alice_t, "Doomed").await;
        api.ok(204, "DELETE", &format!("/communities/{doomed}"), &alice_t, None).await;
        drop(bob_ws);

        let mut missing = Vec::new();
        for _ in 0..40 {
            for e in drain(&mut observer).await {
                seen.insert(e["type"].as_str().unwrap().to_string());
            }
            missing = EventKind::ALL
                .iter()
                .map(|k| k.name())
                .filter(|n| !seen.contains(*n))
                .collect();
            if missing.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(missing.is_empty(), "never received: {missing:?} (saw {seen:?})");
    })
    .await;
}
