//! Read receipts and notifications over real sockets: READ_RECEIPT_UPDATED
//! and NEW_NOTIFICATION / NOTIFICATION_READ reach only the user's own
//! `user:` room; mentions of a user who cannot see the channel create
//! nothing; thread replies notify the parent's author; DMs notify the
//! other participants; the read-state list leaves out channels the user
//! no longer sees. Runs on SQLite and, when configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, Guild, drain, each_backend, id, next_event};
use chinwag_protocol::permissions::*;
use serde_json::json;

#[tokio::test]
async fn receipts_and_notifications_reach_only_their_user() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let Guild {
            alice: (alice, alice_t),
            bob: (bob, bob_t),
            carol: (carol, carol_t),
            general,
            staff,
            ..
        } = api.guild().await;
        api.ok(
            204,
            "PUT",
            &format!("/channels/{staff}/overrides/user/{carol}"),
            &alice_t,
            Some(json!({"deny": VIEW_CHANNEL})),
        )
        .await;
        let (aroom, broom, croom) = (
            format!("user:{alice}"),
            format!("user:{bob}"),
            format!("user:{carol}"),
        );

        let mut alice_ws = server.client(alice).await;
        let mut bob_ws = server.client(bob).await;
        let mut carol_ws = server.client(carol).await;

        // A mention notifies bob, only bob.
        let m1 = api.send(&alice_t, general, &format!("hey <@{bob}>")).await;
        let ev = next_event(&mut bob_ws, &broom, "NEW_NOTIFICATION").await;
        assert_eq!(ev["data"]["notification"]["kind"], "mention");
        assert_eq!(ev["data"]["notification"]["message_id"], m1["id"]);
        let n1 = id(&ev["data"]["notification"]["id"]);

        // Mentioning carol in a channel she cannot see creates nothing.
        api.send(&alice_t, staff, &format!("psst <@{carol}>")).await;
        let seen = drain(&mut carol_ws).await;
        assert!(
            seen.iter().all(|e| e["type"] != "NEW_NOTIFICATION"),
            "{seen:?}"
        );
        let list = api
            .ok(200, "GET", "/users/@me/notifications", &carol_t, None)
            .await;
        assert!(list.as_array().unwrap().is_empty());

        // A thread reply notifies the parent's author (alice).
        let reply = api
            .ok(
                201,
                "POST",
                &format!("/channels/{general}/messages"),
                &bob_t,
                Some(json!({"content": "a reply", "thread_parent_id": m1["id"]})),
            )
            .await;
        let ev = next_event(&mut alice_ws, &aroom, "NEW_NOTIFICATION").await;
        assert_eq!(ev["data"]["notification"]["kind"], "reply");
        assert_eq!(ev["data"]["notification"]["message_id"], reply["id"]);

        // A DM notifies the other participant.
        let dm = api
            .ok(
                200,
                "POST",
                "/dms",
                &alice_t,
                Some(json!({"recipient_id": carol.to_string()})),
            )
            .await;
        let dm = id(&dm["id"]);
        let dmsg = api.send(&alice_t, dm, "hello carol").await;
        let ev = next_event(&mut carol_ws, &croom, "NEW_NOTIFICATION").await;
        assert_eq!(ev["data"]["notification"]["kind"], "dm");

        // Mark read: NOTIFICATION_READ to bob's room only.
        let r = api
            .ok(
                200,
                "POST",
                "/users/@me/notifications/read",
                &bob_t,
                Some(json!({"notification_ids": [n1.to_string()]})),
            )
            .await;
        assert_eq!(r["notification_ids"].as_array().unwrap().len(), 1);
        let ev = next_event(&mut bob_ws, &broom, "NOTIFICATION_READ").await;
        assert_eq!(id(&ev["data"]["notification_ids"][0]), n1);
        // Carol marking bob's notification changes nothing.
        let r = api
            .ok(
                200,
                "POST",
                "/users/@me/notifications/read",
                &carol_t,
                Some(json!({"notification_ids": [n1.to_string()]})),
            )
            .await;
        assert!(r["notification_ids"].as_array().unwrap().is_empty());

        // Read receipts: the reader's own room only, with counts.
        let before = api
            .ok(
                200,
                "GET",
                &format!("/channels/{general}/read"),
                &bob_t,
                None,
            )
            .await;
        assert!(before["unread_count"].as_i64().unwrap() >= 1);
        let mark_m1 = || {
            let (api, token) = (&api, bob_t.clone());
            let (path, body) = (
                format!("/channels/{general}/read"),
                json!({"message_id": m1["id"]}),
            );
            async move { api.ok(200, "PUT", &path, &token, Some(body)).await }
        };
        let state = mark_m1().await;
        let ev = next_event(&mut bob_ws, &broom, "READ_RECEIPT_UPDATED").await;
        assert_eq!(ev["data"]["read_state"]["channel_id"], general.to_string());
        assert_eq!(ev["data"]["read_state"]["version"], state["version"]);
        assert!(ev["data"]["read_state"]["mention_count"].is_i64());
        // Marking the same message again changes nothing.
        let again = mark_m1().await;
        assert_eq!(again, state);
        let seen = drain(&mut bob_ws).await;
        assert!(
            seen.iter().all(|e| e["type"] != "READ_RECEIPT_UPDATED"),
            "{seen:?}"
        );
        api.ok(
            200,
            "PUT",
            &format!("/channels/{dm}/read"),
            &carol_t,
            Some(json!({"message_id": dmsg["id"]})),
        )
        .await;
        let ev = next_event(&mut carol_ws, &croom, "READ_RECEIPT_UPDATED").await;
        assert_eq!(ev["data"]["read_state"]["unread_count"], 0);
        // Carol cannot mark a channel she cannot see.
        let r = api
            .call(
                "PUT",
                &format!("/channels/{staff}/read"),
                Some(&carol_t),
                Some(json!({"message_id": m1["id"]})),
            )
            .await;
        assert_eq!(r.status, 404);
        for (ws, me) in [
            (&mut alice_ws, &aroom),
            (&mut bob_ws, &broom),
            (&mut carol_ws, &croom),
        ] {
            let seen = drain(ws).await;
            assert!(
                seen.iter().all(|e| {
                    let personal = [
                        "READ_RECEIPT_UPDATED",
                        "NEW_NOTIFICATION",
                        "NOTIFICATION_READ",
                    ]
                    .contains(&e["type"].as_str().unwrap());
                    !personal || &e["room"] == me
                }),
                "{seen:?}"
            );
        }
        let states = api
            .ok(200, "GET", "/users/@me/read-states", &bob_t, None)
            .await;
        assert_eq!(states.as_array().unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn read_states_of_channels_no_longer_seen_are_left_out() {
    each_backend(|server| async move {
        // Own the server (not just its address) so it lives to the end.
        let server = server;
        let api = Api { addr: server.addr };
        let Guild {
            alice: (_, alice_t),
            bob: (bob, bob_t),
            general,
            staff,
            ..
        } = api.guild().await;
        for channel in [general, staff] {
            let message = api.send(&alice_t, channel, "hello").await;
            let path = format!("/channels/{channel}/read");
            let body = json!({"message_id": message["id"]});
            api.ok(200, "PUT", &path, &bob_t, Some(body)).await;
        }
        let channels = |states: serde_json::Value| -> Vec<i64> {
            states
                .as_array()
                .unwrap()
                .iter()
                .map(|s| id(&s["channel_id"]))
                .collect()
        };
        let states = api
            .ok(200, "GET", "/users/@me/read-states", &bob_t, None)
            .await;
        assert_eq!(channels(states), [general, staff]);

        // Staff turns private without Bob; what happens there stays hidden.
        let path = format!("/channels/{staff}");
        api.ok(
            200,
            "PATCH",
            &path,
            &alice_t,
            Some(json!({"private": true})),
        )
        .await;
        api.send(&alice_t, staff, &format!("<@{bob}> news")).await;
        let states = api
            .ok(200, "GET", "/users/@me/read-states", &bob_t, None)
            .await;
        assert_eq!(channels(states), [general]);
        let r = api
            .call(
                "GET",
                &format!("/channels/{staff}/read"),
                Some(&bob_t),
                None,
            )
            .await;
        assert_eq!(r.status, 404);
    })
    .await;
}

#[tokio::test]
async fn notifications_quote_a_message_as_it_is_now_and_deleted_parents_stay_deleted() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let g = api.guild().await;
        let carol = g.carol.0;
        let mut carol_ws = server.client(carol).await;
        let said = api
            .send(&g.bob.1, g.general, &format!("<@{carol}> the code is 1234"))
            .await;
        let message = format!("/messages/{}", said["id"].as_str().unwrap());
        let excerpts = || async {
            let list = api
                .ok(200, "GET", "/users/@me/notifications", &g.carol.1, None)
                .await;
            let list = list.as_array().unwrap().clone();
            list.iter()
                .map(|n| n["excerpt"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(excerpts().await, [format!("<@{carol}> the code is 1234")]);
        // An edit rewrites the quote; a deletion blanks it.
        api.ok(
            200,
            "PATCH",
            &message,
            &g.bob.1,
            Some(json!({"content": format!("<@{carol}> (redacted)")})),
        )
        .await;
        assert_eq!(excerpts().await, [format!("<@{carol}> (redacted)")]);
        api.ok(204, "DELETE", &message, &g.bob.1, None).await;
        assert_eq!(excerpts().await, [String::new()]);

        // Deleting a reply under a deleted parent sends no reply count for
        // the parent (its newer version would bring the tombstone back).
        let parent = api.send(&g.alice.1, g.general, "parent").await;
        let reply = api.reply(&g.bob.1, g.general, &parent, "reply").await;
        let parent_path = format!("/messages/{}", parent["id"].as_str().unwrap());
        api.ok(204, "DELETE", &parent_path, &g.alice.1, None).await;
        let reply_path = format!("/messages/{}", reply["id"].as_str().unwrap());
        api.ok(204, "DELETE", &reply_path, &g.bob.1, None).await;
        let room = format!("channel:{}", g.general);
        next_event(&mut carol_ws, &room, "DELETE_THREAD_REPLY").await;
        let after = drain(&mut carol_ws).await;
        assert!(
            after
                .iter()
                .all(|e| e["type"] != "THREAD_REPLY_COUNT_UPDATED"),
            "{after:?}"
        );
    })
    .await;
}
