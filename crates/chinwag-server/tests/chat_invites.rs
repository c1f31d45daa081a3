//! Invite management over REST: managers list a community's invites, the
//! creator or a manager revokes one (it stops working at once; joins made
//! stay), nobody else can, and a ban revokes the banned user's invites.
//! Runs on SQLite and, when configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, each_backend, id};
use chinwag_protocol::permissions::{CREATE_INVITE, EVERYONE_DEFAULT};
use serde_json::json;

#[tokio::test]
async fn invites_are_listed_revoked_and_die_with_a_ban() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let g = api.guild().await;
        let ((_, alice_t), (bob, bob_t), (_, carol_t)) = (g.alice, g.bob, g.carol);
        let community = g.community;
        let (_, dave_t) = api.register("dave").await;
        let (_, erin_t) = api.register("erin").await;
        let inviter = api
            .ok(201, "POST", &format!("/communities/{community}/roles"), &alice_t,
                Some(json!({"name": "Inviter", "position": 1, "permissions": EVERYONE_DEFAULT | CREATE_INVITE})))
            .await;
        let inviter = id(&inviter["id"]);
        api.ok(204, "PUT", &format!("/communities/{community}/members/{bob}/roles/{inviter}"), &alice_t, None)
            .await;
        let bobs = api.invite(&bob_t, community).await;
        let bobs_second = api.invite(&bob_t, community).await;
        let alices = api.invite(&alice_t, community).await;

        // Managers list them all, newest first; others cannot.
        let list = format!("/communities/{community}/invites");
        let listed = api.ok(200, "GET", &list, &alice_t, None).await;
        let codes: Vec<&str> = listed.as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
        for code in [&bobs, &bobs_second, &alices] {
            assert!(codes.contains(&code.as_str()), "{code} missing from {listed}");
        }
        assert_eq!(api.call("GET", &list, Some(&carol_t), None).await.status, 403);
        assert_eq!(api.call("GET", &list, Some(&dave_t), None).await.status, 404);

        // Neither a plain member nor an outsider may revoke bob's invite.
        let revoke = |code: &str| format!("/invites/{code}");
        assert_eq!(api.call("DELETE", &revoke(&bobs), Some(&carol_t), None).await.status, 403);
        assert_eq!(api.call("DELETE", &revoke(&bobs), Some(&dave_t), None).await.status, 404);
        assert_eq!(api.call("DELETE", &revoke("nosuchcode"), Some(&bob_t), None).await.status, 404);

        // Its creator may: it stops working at once.
        api.join(&dave_t, &bobs).await;
        api.ok(204, "DELETE", &revoke(&bobs), &bob_t, None).await;
        assert_eq!(api.call("GET", &revoke(&bobs), None, None).await.status, 404);
        let r = api.call("POST", &format!("/invites/{bobs}/join"), Some(&erin_t), None).await;
        assert_eq!(r.status, 404, "{:?}", r.body);
        assert_eq!(api.call("DELETE", &revoke(&bobs), Some(&bob_t), None).await.status, 404);
        // The join it made stays.
        api.ok(200, "GET", &format!("/communities/{community}"), &dave_t, None).await;

        // A ban revokes what the banned user created, nothing else.
        api.ok(200, "PUT", &format!("/communities/{community}/bans/{bob}"), &alice_t, None).await;
        assert_eq!(api.call("GET", &revoke(&bobs_second), None, None).await.status, 404);
        api.ok(200, "GET", &revoke(&alices), &erin_t, None).await;

        // The owner revokes anyone's.
        api.ok(204, "DELETE", &revoke(&alices), &alice_t, None).await;
        let listed = api.ok(200, "GET", &list, &alice_t, None).await;
        let left: Vec<&str> = listed.as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
        // Only the invite the guild was built with remains.
        assert_eq!(left.len(), 1, "{listed}");
        assert!(![&bobs, &bobs_second, &alices].iter().any(|c| c.as_str() == left[0]), "{listed}");
    })
    .await;
}
