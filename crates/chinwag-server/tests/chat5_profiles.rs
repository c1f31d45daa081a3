//! Profiles over real sockets: USER_PROFILE_UPDATED reaches the user's own
//! room and every community and DM room they are in, and nobody who shares
//! none of them; those who got it can read the profile with
//! `GET /users/{id}`, nobody else. Runs on SQLite and, when configured,
//! PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, drain, each_backend, id, next_event};
use serde_json::json;

#[tokio::test]
async fn profile_updates_reach_shared_rooms_only() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let (alice, alice_t) = api.register("alice").await;
        let (bob, bob_t) = api.register("bob").await;
        let (carol, carol_t) = api.register("carol").await;
        let (dave, dave_t) = api.register("dave").await;
        let community = api.community(&alice_t, "Guild").await;
        let code = api.invite(&alice_t, community).await;
        api.join(&bob_t, &code).await;
        let dm = api.dm_via_community(&alice_t, &carol_t, carol).await;

        let mut alice_ws = server.client(alice).await;
        let mut bob_ws = server.client(bob).await;
        let mut carol_ws = server.client(carol).await;
        let mut dave_ws = server.client(dave).await;

        let user = api
            .ok(200, "PATCH", "/users/@me", &alice_t,
                Some(json!({"display_name": "Alice A.", "bio": "hi", "avatar_url": "https://x.invalid/a.png"})))
            .await;
        assert_eq!(user["display_name"], "Alice A.");
        assert_eq!(user["bio"], "hi");
        let version = user["version"].clone();
        let ev = next_event(&mut alice_ws, &format!("user:{alice}"), "USER_PROFILE_UPDATED").await;
        assert_eq!(ev["data"]["version"], version);
        let ev = next_event(&mut bob_ws, &format!("community:{community}"), "USER_PROFILE_UPDATED").await;
        assert_eq!(id(&ev["data"]["user_id"]), alice);
        let ev = next_event(&mut carol_ws, &format!("dm:{dm}"), "USER_PROFILE_UPDATED").await;
        assert_eq!(ev["data"]["version"], version);
        let seen = drain(&mut dave_ws).await;
        assert!(seen.iter().all(|e| e["type"] != "USER_PROFILE_UPDATED"), "{seen:?}");

        // null clears; an empty name is refused and changes nothing.
        let user = api.ok(200, "PATCH", "/users/@me", &alice_t, Some(json!({"bio": null}))).await;
        assert!(user["bio"].is_null());
        let r = api.call("PATCH", "/users/@me", Some(&alice_t), Some(json!({"display_name": "  "}))).await;
        assert_eq!(r.status, 400);
        let me = api.ok(200, "GET", "/users/@me", &alice_t, None).await;
        assert_eq!(me["display_name"], "Alice A.");

        // Whoever got the event can refetch the profile; nobody else can.
        for token in [&alice_t, &bob_t, &carol_t] {
            let seen = api.ok(200, "GET", &format!("/users/{alice}"), token, None).await;
            assert_eq!(seen, me);
        }
        let r = api.call("GET", &format!("/users/{alice}"), Some(&dave_t), None).await;
        assert_eq!(r.status, 404);
        let r = api.call("GET", "/users/999999", Some(&alice_t), None).await;
        assert_eq!(r.status, 404);
        let r = api.call("GET", "/users/abc", Some(&alice_t), None).await;
        assert_eq!(r.status, 400);
    })
    .await;
}
