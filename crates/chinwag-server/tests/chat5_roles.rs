//! Roles and permissions over real sockets: ROLE_* events reach the
//! community room; a channel override hides a channel live (room left, no
//! messages, no typing) and a role assignment reveals it live (room joined,
//! `reauth_required`); hierarchy attacks are refused and change nothing.
//! Runs on SQLite and, when configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, Guild, drain, each_backend, id, next_event};
use chinwag_protocol::permissions::*;
use serde_json::{Value, json};

/// The next control frame with this op and room.
async fn next_control(ws: &mut chat_support::support::Client, op: &str, room: &str) -> Value {
    loop {
        let frame = ws.recv().await;
        if frame["op"] == op && frame["room"] == room {
            return frame;
        }
    }
}

fn rooms_seen(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["room"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn roles_overrides_and_hierarchy() {
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
        let croom = format!("community:{community}");
        let staff_room = format!("channel:{staff}");

        let mut alice_ws = server.client(alice).await;
        let mut bob_ws = server.client(bob).await;
        let mut carol_ws = server.client(carol).await;

        // Members start with @everyone's defaults.
        let perms = api
            .ok(
                200,
                "GET",
                &format!("/communities/{community}/permissions"),
                &bob_t,
                None,
            )
            .await;
        assert_eq!(perms["permissions"], EVERYONE_DEFAULT);
        // A plain member cannot create roles.
        let denied = api
            .call(
                "POST",
                &format!("/communities/{community}/roles"),
                Some(&bob_t),
                Some(json!({"name": "Mine"})),
            )
            .await;
        assert_eq!(denied.status, 403, "{:?}", denied.body);

        // ROLE_CREATED reaches every member's community room.
        let mod_bits = VIEW_CHANNEL | SEND_MESSAGES | MANAGE_ROLES | KICK_MEMBERS | BAN_MEMBERS;
        let role = api
            .ok(
                201,
                "POST",
                &format!("/communities/{community}/roles"),
                &alice_t,
                Some(json!({"name": "Mod", "permissions": mod_bits, "position": 10})),
            )
            .await;
        let mod_role = id(&role["id"]);
        for ws in [&mut alice_ws, &mut bob_ws, &mut carol_ws] {
            let ev = next_event(ws, &croom, "ROLE_CREATED").await;
            assert_eq!(id(&ev["data"]["role_id"]), mod_role);
        }

        // Hide staff from @everyone, show it to Mod: bob and carol leave
        // its room live, with reauth_required.
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
            &format!("/channels/{staff}/overrides/role/{mod_role}"),
            &alice_t,
            Some(json!({"allow": VIEW_CHANNEL})),
        )
        .await;
        for ws in [&mut bob_ws, &mut carol_ws] {
            let left = next_control(ws, "room_left", &staff_room).await;
            assert_eq!(left["reason"], "access_revoked");
            let reauth = ws.recv_op("reauth_required").await;
            assert_eq!(reauth["reason"], "permissions_changed");
        }
        assert_eq!(
            api.call("GET", &format!("/channels/{staff}"), Some(&bob_t), None)
                .await
                .status,
            404
        );
        assert_eq!(
            api.call(
                "GET",
                &format!("/channels/{staff}/messages"),
                Some(&carol_t),
                None
            )
            .await
            .status,
            404
        );
        let refused = api
            .call(
                "POST",
                &format!("/channels/{staff}/messages"),
                Some(&carol_t),
                Some(json!({"content": "hi"})),
            )
            .await;
        assert_eq!(refused.status, 404);

        // Assigning Mod to bob: ROLE_ASSIGNED to the community (carol sees
        // it), bob joins staff live and is asked to reauth.
        api.ok(
            204,
            "PUT",
            &format!("/communities/{community}/members/{bob}/roles/{mod_role}"),
            &alice_t,
            None,
        )
        .await;
        let ev = next_event(&mut carol_ws, &croom, "ROLE_ASSIGNED").await;
        assert_eq!(id(&ev["data"]["user_id"]), bob);
        next_control(&mut bob_ws, "room_joined", &staff_room).await;
        let reauth = bob_ws.recv_op("reauth_required").await;
        assert_eq!(reauth["reason"], "permissions_changed");

        // Staff messages and typing reach alice and bob, never carol.
        let sent = api.send(&alice_t, staff, "staff only").await;
        let ev = next_event(&mut bob_ws, &staff_room, "NEW_MESSAGE").await;
        assert_eq!(ev["data"]["message"]["id"], sent["id"]);
        bob_ws
            .send(json!({"op": "typing", "channel_id": staff.to_string()}))
            .await;
        let typing = next_event(&mut alice_ws, &staff_room, "USER_TYPING").await;
        assert_eq!(id(&typing["data"]["user_id"]), bob);
        carol_ws
            .send(json!({"op": "typing", "channel_id": staff.to_string(), "nonce": "t"}))
            .await;
        let err = carol_ws.recv_op("error").await;
        assert_eq!(err["code"], "FORBIDDEN");
        let seen = drain(&mut carol_ws).await;
        assert!(
            !rooms_seen(&seen).contains(&staff_room),
            "carol saw staff: {seen:?}"
        );
        // Typing in general reaches carol.
        bob_ws
            .send(json!({"op": "typing", "channel_id": general.to_string()}))
            .await;
        next_event(&mut carol_ws, &format!("channel:{general}"), "USER_TYPING").await;

        // Hierarchy attacks by bob (Mod at 10, MANAGE_ROLES) are refused.
        let roles_before = api
            .ok(
                200,
                "GET",
                &format!("/communities/{community}/roles"),
                &bob_t,
                None,
            )
            .await;
        let admin_role = roles_before
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "Admin")
            .map(|r| id(&r["id"]))
            .unwrap();
        for (method, path, body) in [
            (
                "POST",
                format!("/communities/{community}/roles"),
                Some(json!({"name": "Top", "position": 20})),
            ),
            (
                "POST",
                format!("/communities/{community}/roles"),
                Some(json!({"name": "Same", "position": 10})),
            ),
            (
                "POST",
                format!("/communities/{community}/roles"),
                Some(json!({"name": "Greedy", "position": 5, "permissions": ADMINISTRATOR})),
            ),
            (
                "PUT",
                format!("/communities/{community}/members/{bob}/roles/{admin_role}"),
                None,
            ),
            (
                "PATCH",
                format!("/roles/{admin_role}"),
                Some(json!({"permissions": 0})),
            ),
            (
                "PATCH",
                format!("/roles/{mod_role}"),
                Some(json!({"position": 50})),
            ),
            ("DELETE", format!("/roles/{admin_role}"), None),
            (
                "DELETE",
                format!("/communities/{community}/members/{alice}/roles/{admin_role}"),
                None,
            ),
            (
                "PUT",
                format!("/communities/{community}/bans/{alice}"),
                None,
            ),
            (
                "DELETE",
                format!("/communities/{community}/members/{alice}"),
                None,
            ),
        ] {
            let reply = api.call(method, &path, Some(&bob_t), body).await;
            assert_eq!(reply.status, 403, "{method} {path}: {:?}", reply.body);
        }
        let roles_after = api
            .ok(
                200,
                "GET",
                &format!("/communities/{community}/roles"),
                &bob_t,
                None,
            )
            .await;
        assert_eq!(roles_before, roles_after, "refused attacks changed nothing");
        let members = api
            .ok(
                200,
                "GET",
                &format!("/communities/{community}/members"),
                &alice_t,
                None,
            )
            .await;
        assert_eq!(members.as_array().unwrap().len(), 3);

        // Bob manages a role below his own: create, update, assign to carol.
        let helper = api
            .ok(
                201,
                "POST",
                &format!("/communities/{community}/roles"),
                &bob_t,
                Some(json!({"name": "Helper", "position": 5, "permissions": VIEW_CHANNEL})),
            )
            .await;
        let helper = id(&helper["id"]);
        next_event(&mut carol_ws, &croom, "ROLE_CREATED").await;
        api.ok(
            200,
            "PATCH",
            &format!("/roles/{helper}"),
            &bob_t,
            Some(json!({"name": "Helpers"})),
        )
        .await;
        next_event(&mut carol_ws, &croom, "ROLE_UPDATED").await;

        // Alice takes Mod from bob: ROLE_UNASSIGNED, bob leaves staff.
        api.ok(
            204,
            "DELETE",
            &format!("/communities/{community}/members/{bob}/roles/{mod_role}"),
            &alice_t,
            None,
        )
        .await;
        next_event(&mut carol_ws, &croom, "ROLE_UNASSIGNED").await;
        let left = next_control(&mut bob_ws, "room_left", &staff_room).await;
        assert_eq!(left["reason"], "access_revoked");

        // Deleting a role: ROLE_DELETED.
        api.ok(204, "DELETE", &format!("/roles/{helper}"), &alice_t, None)
            .await;
        let ev = next_event(&mut carol_ws, &croom, "ROLE_DELETED").await;
        assert_eq!(id(&ev["data"]["role_id"]), helper);

        // Channel permissions: bob cannot send once SEND_MESSAGES is denied.
        api.ok(
            204,
            "PUT",
            &format!("/channels/{general}/overrides/user/{bob}"),
            &alice_t,
            Some(json!({"deny": SEND_MESSAGES})),
        )
        .await;
        let refused = api
            .call(
                "POST",
                &format!("/channels/{general}/messages"),
                Some(&bob_t),
                Some(json!({"content": "muted"})),
            )
            .await;
        assert_eq!(refused.status, 403, "{:?}", refused.body);
        let perms = api
            .ok(
                200,
                "GET",
                &format!("/communities/{community}/permissions?channel_id={general}"),
                &bob_t,
                None,
            )
            .await;
        assert_eq!(perms["permissions"], EVERYONE_DEFAULT & !SEND_MESSAGES);
        assert!(api.history(&bob_t, general, "").await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_role_manager_hands_out_and_takes_back_only_bits_they_hold() {
    each_backend(|server| async move {
        // Own the server (not just its address) so it lives to the end.
        let server = server;
        let api = Api { addr: server.addr };
        let Guild {
            alice: (_, alice_t),
            bob: (bob, bob_t),
            carol: (carol, carol_t),
            community,
            ..
        } = api.guild().await;
        let role = |token: &str, name: &str, permissions: u64, position: i64| {
            let (api, token, body) = (
                &api,
                token.to_owned(),
                json!({"name": name, "permissions": permissions, "position": position}),
            );
            async move {
                let path = format!("/communities/{community}/roles");
                id(&api.ok(201, "POST", &path, &token, Some(body)).await["id"])
            }
        };
        let assignment =
            |user: i64, role: i64| format!("/communities/{community}/members/{user}/roles/{role}");
        let permissions = |token: String| {
            let api = &api;
            async move {
                let path = format!("/communities/{community}/permissions");
                api.ok(200, "GET", &path, &token, None).await["permissions"].clone()
            }
        };
        let moderator = role(&alice_t, "Mod", MANAGE_ROLES, 10).await;
        let admin = role(&alice_t, "BotAdmin", ADMINISTRATOR, 2).await;
        let manager = role(&alice_t, "Manager", MANAGE_COMMUNITY, 3).await;
        api.ok(204, "PUT", &assignment(bob, moderator), &alice_t, None)
            .await;
        api.ok(204, "PUT", &assignment(carol, manager), &alice_t, None)
            .await;
        let bob_before = permissions(bob_t.clone()).await;

        // Lower roles, but bits Bob lacks: he can neither hand them out
        // (to himself or anyone) nor take them back or delete them.
        for (user, role) in [(bob, admin), (carol, admin), (bob, manager)] {
            let r = api
                .call("PUT", &assignment(user, role), Some(&bob_t), None)
                .await;
            assert_eq!(r.status, 403, "assign {role} to {user}: {:?}", r.body);
        }
        let r = api
            .call("DELETE", &assignment(carol, manager), Some(&bob_t), None)
            .await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        let r = api
            .call("DELETE", &format!("/roles/{manager}"), Some(&bob_t), None)
            .await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        assert_eq!(permissions(bob_t.clone()).await, bob_before);
        assert_eq!(
            permissions(carol_t.clone()).await,
            json!(EVERYONE_DEFAULT | MANAGE_COMMUNITY)
        );

        // A role whose bits he holds is his to hand out and take back.
        let greeter = role(&bob_t, "Greeter", MANAGE_ROLES, 1).await;
        api.ok(204, "PUT", &assignment(carol, greeter), &bob_t, None)
            .await;
        api.ok(204, "DELETE", &assignment(carol, greeter), &bob_t, None)
            .await;
        api.ok(204, "DELETE", &format!("/roles/{greeter}"), &bob_t, None)
            .await;
    })
    .await;
}
