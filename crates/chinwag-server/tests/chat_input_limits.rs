//! Input limits over real sockets: NUL characters in text, non-object
//! bodies, JSON bodies on 404/405, reaction emoji and the per-message
//! reaction cap, the Admin role's bits, who may delete a community, and
//! no-op profile changes. Runs on SQLite and, when configured (always with
//! CI=true), PostgreSQL, where a NUL in text used to be a 500.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, drain, each_backend, id, raw};
use chinwag_protocol::permissions::{ADMINISTRATOR, ALL, MANAGE_COMMUNITY, PIN_MESSAGES};
use serde_json::{Value, json};

/// Asserts a 400 `BAD_REQUEST` naming NUL.
fn assert_nul_refused(reply: &chat_support::Reply, what: &str) {
    assert_eq!(reply.status, 400, "{what}: {:?}", reply.body);
    assert_eq!(reply.code(), "BAD_REQUEST", "{what}");
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("NUL"), "{what}: {message}");
}

#[tokio::test]
async fn nul_in_text_is_bad_request_and_lookups_miss() {
    each_backend(|server| async move {
        // Own the server (not just its address) so it lives to the end.
        let server = server;
        let api = Api { addr: server.addr };
        let g = api.guild().await;
        let (alice, alice_t) = (g.alice.0, g.alice.1.clone());
        let (bob, _) = g.bob.clone();
        let message = api.send(&alice_t, g.general, "hello").await;
        let mid = id(&message["id"]);

        let nul = "a\u{0}b";
        for (method, path, body) in [
            (
                "POST",
                format!("/channels/{}/messages", g.general),
                json!({"content": nul}),
            ),
            ("PATCH", format!("/messages/{mid}"), json!({"content": nul})),
            ("PATCH", "/users/@me".into(), json!({"display_name": nul})),
            ("PATCH", "/users/@me".into(), json!({"bio": nul})),
            ("POST", "/communities".into(), json!({"name": nul})),
            (
                "POST",
                format!("/communities/{}/channels", g.community),
                json!({"name": nul}),
            ),
            (
                "PATCH",
                format!("/channels/{}", g.general),
                json!({"topic": nul}),
            ),
            (
                "POST",
                format!("/communities/{}/roles", g.community),
                json!({"name": nul}),
            ),
            (
                "PUT",
                format!("/communities/{}/bans/{bob}", g.community),
                json!({"reason": nul}),
            ),
        ] {
            let reply = api.call(method, &path, Some(&alice_t), Some(body)).await;
            assert_nul_refused(&reply, &format!("{method} {path}"));
        }
        // Without a token too.
        let register = api
            .call(
                "POST",
                "/auth/register",
                None,
                Some(
                    json!({"username": "nul_user", "password": "correct horse battery",
                            "display_name": nul}),
                ),
            )
            .await;
        assert_nul_refused(&register, "register display_name");
        let login = api
            .call(
                "POST",
                "/auth/login",
                None,
                Some(json!({"username": "nul\u{0}user", "password": "correct horse battery"})),
            )
            .await;
        assert_nul_refused(&login, "login username");

        // A NUL in a path: an emoji is refused, an invite code is unknown.
        let reaction = api
            .call(
                "PUT",
                &format!("/messages/{mid}/reactions/%00"),
                Some(&alice_t),
                None,
            )
            .await;
        assert_nul_refused(&reaction, "emoji %00");
        let removal = api
            .call(
                "DELETE",
                &format!("/messages/{mid}/reactions/a%00"),
                Some(&alice_t),
                None,
            )
            .await;
        assert_nul_refused(&removal, "removing emoji a%00");
        let preview = api.call("GET", "/invites/a%00b", None, None).await;
        assert_eq!(preview.status, 404, "{:?}", preview.body);
        assert_eq!(preview.code(), "NOT_FOUND");
        let join = api
            .call("POST", "/invites/a%00b/join", Some(&alice_t), None)
            .await;
        assert_eq!(join.status, 404, "{:?}", join.body);

        // The gateway refuses it the same way (the chat domain checks).
        let mut alice_ws = server.client(alice).await;
        alice_ws
            .send(
                json!({"op": "send_message", "channel_id": g.general.to_string(),
                         "content": nul, "nonce": "n1"}),
            )
            .await;
        let refused = alice_ws.recv_op("error").await;
        assert_eq!(refused["code"], "BAD_REQUEST", "{refused}");
        assert_eq!(refused["nonce"], "n1");

        // An escaped backslash before `u0000` is six ordinary characters.
        let literal = api
            .send(&alice_t, g.general, "path C:\\u0000 is fine")
            .await;
        assert_eq!(literal["content"], "path C:\\u0000 is fine");
        // Nothing with a NUL was stored.
        let history = api.history(&alice_t, g.general, "").await;
        assert_eq!(history.len(), 2, "{history:?}");
        let me = api.ok(200, "GET", "/users/@me", &alice_t, None).await;
        assert_eq!(me["display_name"], "alice");
    })
    .await;
}

#[tokio::test]
async fn array_and_scalar_bodies_are_refused() {
    let server = chat_support::support::TestServer::start().await;
    let api = Api { addr: server.addr };
    for body in [
        &b"[\"arrayuser\",\"password123\"]"[..],
        b"  [\"arrayuser\",\"password123\",null]",
        b"\"arrayuser\"",
    ] {
        let reply = raw(
            server.addr,
            "POST",
            "/api/v1/auth/register",
            None,
            Some("application/json"),
            body,
        )
        .await;
        assert_eq!(reply.status, 400, "{:?}", reply.body);
        assert_eq!(reply.code(), "BAD_REQUEST");
    }
    let login = api
        .call(
            "POST",
            "/auth/login",
            None,
            Some(json!(["arrayuser", "password123"])),
        )
        .await;
    assert_eq!(login.status, 400);
    // The ban body (optional) is held to the same rule.
    let (_, alice_t) = api.register("alice").await;
    let (bob, _) = api.register("bob").await;
    let community = api.community(&alice_t, "Bans").await;
    let ban = api
        .call(
            "PUT",
            &format!("/communities/{community}/bans/{bob}"),
            Some(&alice_t),
            Some(json!(["spam"])),
        )
        .await;
    assert_eq!(ban.status, 400, "{:?}", ban.body);
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_answer_json() {
    let server = chat_support::support::TestServer::start().await;
    for (method, path, status, code) in [
        ("DELETE", "/api/v1/auth/login", 405, "METHOD_NOT_ALLOWED"),
        ("PUT", "/api/v1/users/@me", 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/healthz", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/api/v1/nope", 404, "NOT_FOUND"),
        ("GET", "/nope", 404, "NOT_FOUND"),
        ("GET", "/", 404, "NOT_FOUND"),
    ] {
        let reply = raw(server.addr, method, path, None, None, b"").await;
        assert_eq!(reply.status, status, "{method} {path}");
        assert_eq!(reply.code(), code, "{method} {path}: {:?}", reply.body);
        assert!(reply.body["error"]["message"].is_string());
    }
}

/// The Admin role of a fresh community.
async fn admin_role(api: &Api, token: &str, community: i64) -> Value {
    let roles = api
        .ok(
            200,
            "GET",
            &format!("/communities/{community}/roles"),
            token,
            None,
        )
        .await;
    roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Admin")
        .expect("an Admin role")
        .clone()
}

#[tokio::test]
async fn admin_role_holds_the_defined_bits_and_can_be_edited() {
    each_backend(|server| async move {
        // Own the server (not just its address) so it lives to the end.
        let server = server;
        let api = Api { addr: server.addr };
        let (_, alice_t) = api.register("alice").await;
        let community = api.community(&alice_t, "Bits").await;
        let admin = admin_role(&api, &alice_t, community).await;
        assert_eq!(admin["permissions"], json!(ALL), "{admin}");
        let role = id(&admin["id"]);
        let updated = api
            .ok(
                200,
                "PATCH",
                &format!("/roles/{role}"),
                &alice_t,
                Some(json!({"permissions": ADMINISTRATOR})),
            )
            .await;
        assert_eq!(updated["permissions"], json!(ADMINISTRATOR));
        api.ok(
            200,
            "PATCH",
            &format!("/roles/{role}"),
            &alice_t,
            Some(json!({"permissions": ALL})),
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn only_the_owner_or_an_administrator_deletes_a_community() {
    each_backend(|server| async move {
        // Own the server (not just its address) so it lives to the end.
        let server = server;
        let api = Api { addr: server.addr };
        let g = api.guild().await;
        let alice_t = g.alice.1.clone();
        let (bob, bob_t) = g.bob.clone();
        let (carol, carol_t) = g.carol.clone();
        let roles = format!("/communities/{}/roles", g.community);
        let manager = api
            .ok(201, "POST", &roles, &alice_t,
                Some(json!({"name": "Manager", "position": 5, "permissions": MANAGE_COMMUNITY | PIN_MESSAGES})))
            .await;
        let manager = id(&manager["id"]);
        let admin = id(&admin_role(&api, &alice_t, g.community).await["id"]);
        let assign = |user: i64, role: i64| {
            format!("/communities/{}/members/{user}/roles/{role}", g.community)
        };
        api.ok(204, "PUT", &assign(bob, manager), &alice_t, None).await;
        api.ok(204, "PUT", &assign(carol, admin), &alice_t, None).await;

        let path = format!("/communities/{}", g.community);
        // MANAGE_COMMUNITY still edits it, but cannot delete it.
        api.ok(200, "PATCH", &path, &bob_t, Some(json!({"name": "Renamed"})))
            .await;
        let refused = api.call("DELETE", &path, Some(&bob_t), None).await;
        assert_eq!(refused.status, 403, "{:?}", refused.body);
        assert_eq!(refused.code(), "FORBIDDEN");
        api.ok(200, "GET", &path, &alice_t, None).await;
        // ADMINISTRATOR can.
        let deleted = api.call("DELETE", &path, Some(&carol_t), None).await;
        assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    })
    .await;
}

#[tokio::test]
async fn reactions_need_a_printable_emoji_and_stop_at_twenty() {
    each_backend(|server| async move {
        // Own the server (not just its address) so it lives to the end.
        let server = server;
        let api = Api { addr: server.addr };
        let g = api.guild().await;
        let alice_t = g.alice.1.clone();
        let bob_t = g.bob.1.clone();
        let mid = id(&api.send(&alice_t, g.general, "react").await["id"]);
        let react = |emoji: &str| format!("/messages/{mid}/reactions/{emoji}");

        let long = "x".repeat(65);
        for bad in ["%20", "a%20b", "%09", "a%0Ab", "%7F", long.as_str()] {
            let reply = api.call("PUT", &react(bad), Some(&alice_t), None).await;
            assert_eq!(reply.status, 400, "{bad}: {:?}", reply.body);
            assert_eq!(reply.code(), "BAD_REQUEST", "{bad}");
        }
        api.ok(200, "PUT", &react(&"x".repeat(64)), &alice_t, None)
            .await;
        api.ok(200, "PUT", &react("%F0%9F%91%8D"), &alice_t, None)
            .await;
        for i in 2..20 {
            api.ok(200, "PUT", &react(&format!("e{i}")), &alice_t, None)
                .await;
        }
        let full = api
            .call("PUT", &react("one_more"), Some(&bob_t), None)
            .await;
        assert_eq!(full.status, 409, "{:?}", full.body);
        assert_eq!(full.code(), "CONFLICT");
        assert!(
            full.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("20"),
            "{:?}",
            full.body
        );
        // An emoji already there still counts up.
        let same = api
            .ok(200, "PUT", &react("%F0%9F%91%8D"), &bob_t, None)
            .await;
        assert_eq!(same["reaction"]["count"], 2);
        let message = api
            .ok(200, "GET", &format!("/messages/{mid}"), &alice_t, None)
            .await;
        assert_eq!(message["reactions"].as_array().unwrap().len(), 20);
    })
    .await;
}

#[tokio::test]
async fn a_profile_patch_that_sets_nothing_new_changes_nothing() {
    each_backend(|server| async move {
        // Own the server (not just its address) so it lives to the end.
        let server = server;
        let api = Api { addr: server.addr };
        let (alice, alice_t) = api.register("alice").await;
        let before = api.ok(200, "GET", "/users/@me", &alice_t, None).await;
        let mut ws = server.client(alice).await;
        let after = api
            .ok(200, "PATCH", "/users/@me", &alice_t, Some(json!({})))
            .await;
        assert_eq!(after, before);
        let events = drain(&mut ws).await;
        assert!(
            events.iter().all(|e| e["type"] != "USER_PROFILE_UPDATED"),
            "{events:?}"
        );
        // A real change still bumps the version.
        let changed = api
            .ok(
                200,
                "PATCH",
                "/users/@me",
                &alice_t,
                Some(json!({"bio": "hi"})),
            )
            .await;
        assert!(changed["version"].as_i64() > before["version"].as_i64());
        // Setting only current values is no change either.
        let same = api
            .ok(
                200,
                "PATCH",
                "/users/@me",
                &alice_t,
                Some(json!({"display_name": changed["display_name"], "bio": "hi", "avatar_url": null})),
            )
            .await;
        assert_eq!(same, changed);
        let events = drain(&mut ws).await;
        let updates = events
            .iter()
            .filter(|e| e["type"] == "USER_PROFILE_UPDATED" && e["room"] == format!("user:{alice}"))
            .count();
        assert_eq!(updates, 1, "only the real change: {events:?}");
    })
    .await;
}

#[tokio::test]
async fn an_empty_patch_of_a_community_channel_or_role_changes_nothing() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let (alice, alice_t) = api.register("alice").await;
        let community = api.community(&alice_t, "Guild").await;
        let channel = api.channel(&alice_t, community, "general", false).await;
        let mut ws = server.client(alice).await;
        // @everyone's id is the community's.
        for (path, updated) in [
            (format!("/communities/{community}"), "COMMUNITY_UPDATED"),
            (format!("/channels/{channel}"), "CHANNEL_UPDATED"),
            (format!("/roles/{community}"), "ROLE_UPDATED"),
        ] {
            let first = api.ok(200, "PATCH", &path, &alice_t, Some(json!({}))).await;
            let again = api.ok(200, "PATCH", &path, &alice_t, Some(json!({}))).await;
            assert_eq!(first, again, "{path}");
            let events = drain(&mut ws).await;
            assert!(events.iter().all(|e| e["type"] != updated), "{events:?}");
        }
    })
    .await;
}
