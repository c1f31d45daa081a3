//! The chat end-to-end flow on a cluster: three nodes sharing one
//! PostgreSQL and a Redis (or NATS) engine, with the users spread over the
//! nodes. Messages and DMs reach everyone exactly once, every device of a
//! user on every node gets them, and a private-channel revoke issued on
//! node A removes the user's room on node C at once.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::{Api, drain, id, next_event, pg_cluster};
use chinwag_testkit::Backend;
use serde_json::json;

async fn chat_across_nodes(engine: Backend) {
    let Some((nodes, pg)) = pg_cluster(engine, 3).await else {
        return;
    };
    let api: Vec<Api> = nodes.iter().map(|n| Api { addr: n.addr }).collect();

    let (alice, alice_token) = api[0].register("alice").await;
    let (bob, bob_token) = api[1].register("bob").await;
    let (carol, carol_token) = api[2].register("carol").await;
    let community = api[0].community(&alice_token, "cluster").await;
    let channel = api[0]
        .channel(&alice_token, community, "general", false)
        .await;
    let code = api[0].invite(&alice_token, community).await;
    api[1].join(&bob_token, &code).await;
    api[2].join(&carol_token, &code).await;

    let mut alice_ws = nodes[0].client(alice).await;
    let mut bob_phone = nodes[1].client(bob).await;
    let mut bob_laptop = nodes[2].client(bob).await;
    let mut carol_ws = nodes[2].client(carol).await;

    // A message sent on node A reaches every device on every node once.
    let room = format!("channel:{channel}");
    let sent = api[0].send(&alice_token, channel, "hello cluster").await;
    for ws in [
        &mut alice_ws,
        &mut bob_phone,
        &mut bob_laptop,
        &mut carol_ws,
    ] {
        let event = next_event(ws, &room, "NEW_MESSAGE").await;
        assert_eq!(event["data"]["message"]["id"], sent["id"]);
        let again = drain(ws).await;
        assert!(
            again.iter().all(|e| e["type"] != "NEW_MESSAGE"),
            "{again:?}"
        );
    }

    // A DM opened on node B between users on nodes B/C and C.
    let dm = api[1]
        .ok(
            200,
            "POST",
            "/dms",
            &bob_token,
            Some(json!({"recipient_id": carol.to_string()})),
        )
        .await;
    let dm_id = id(&dm["id"]);
    let dm_room = format!("dm:{dm_id}");
    for ws in [&mut bob_phone, &mut bob_laptop, &mut carol_ws] {
        assert_eq!(ws.recv_op("room_joined").await["room"], dm_room);
    }
    let sent = api[1].send(&bob_token, dm_id, "psst").await;
    for ws in [&mut bob_phone, &mut bob_laptop, &mut carol_ws] {
        let event = next_event(ws, &dm_room, "NEW_DM").await;
        assert_eq!(event["data"]["message"]["id"], sent["id"]);
    }
    assert!(
        drain(&mut alice_ws)
            .await
            .iter()
            .all(|e| e["room"] != dm_room)
    );

    // A private channel: access granted and revoked on node A applies to
    // carol's connection on node C at once.
    let secret = api[0]
        .channel(&alice_token, community, "secret", true)
        .await;
    let secret_room = format!("channel:{secret}");
    let path = format!("/channels/{secret}/members/{carol}");
    assert_eq!(
        api[0]
            .call("PUT", &path, Some(&alice_token), None)
            .await
            .status,
        204
    );
    assert_eq!(carol_ws.recv_op("room_joined").await["room"], secret_room);
    api[0].send(&alice_token, secret, "for carol").await;
    next_event(&mut carol_ws, &secret_room, "NEW_MESSAGE").await;
    assert_eq!(
        api[0]
            .call("DELETE", &path, Some(&alice_token), None)
            .await
            .status,
        204
    );
    let left = carol_ws.recv_op("room_left").await;
    assert_eq!(left["room"], secret_room);
    api[0].send(&alice_token, secret, "not for carol").await;
    api[0].send(&alice_token, channel, "marker").await;
    loop {
        let event = carol_ws.recv_event().await;
        assert_ne!(event["room"], secret_room, "event after revoke: {event}");
        if event["room"] == room && event["data"]["message"]["content"] == "marker" {
            break;
        }
    }
    drop(nodes);
    pg.drop_schema().await;
}

#[tokio::test]
async fn redis_cluster_chat() {
    chat_across_nodes(Backend::Redis).await;
}

#[tokio::test]
async fn nats_cluster_chat() {
    chat_across_nodes(Backend::Nats).await;
}
