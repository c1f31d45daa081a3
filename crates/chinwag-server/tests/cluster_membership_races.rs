//! Membership changes racing each other from different nodes (one
//! PostgreSQL, a Redis or NATS engine): the per-community turn is per
//! process, so here the joining side checks again after its joins. A kick
//! on one node racing new channels on another, and a join on one racing a
//! ban on another, leave no connection in the community's rooms once the
//! remote node's changes have arrived (its `reauth_required`, sent after
//! them, marks that). The probe is `typing`, refused unless the connection
//! is in the room.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::support::Client;
use chat_support::{Api, id, pg_cluster, probe_room};
use chinwag_testkit::Backend;
use serde_json::json;

/// Asserts `client` ends up out of `channel`'s room ([`probe_room`]): out
/// now, or its `room_left` still on the way (a node applies its own joins
/// twice, at once and when the engine echoes them, so a leave that follows
/// can land a moment after the remote `reauth_required`). A connection left
/// in the room gets no `room_left`, and the wait for it fails the test.
async fn ends_out_of(client: &mut Client, channel: i64, what: &str) {
    let room = format!("channel:{channel}");
    for _ in 0..3 {
        let mut left = false;
        let inside = probe_room(client, channel, |frame| {
            left |= frame["op"] == "room_left" && frame["room"] == room.as_str();
        })
        .await;
        if !inside {
            return;
        }
        // In the room: a leave must still be coming.
        while !left {
            let frame = client.recv().await;
            left = frame["op"] == "room_left" && frame["room"] == room.as_str();
        }
    }
    panic!("{what}: still in {channel}");
}

async fn races_across_nodes(engine: Backend) {
    let Some((nodes, pg)) = pg_cluster(engine, 2).await else {
        return;
    };
    let (a, b) = (
        Api {
            addr: nodes[0].addr,
        },
        Api {
            addr: nodes[1].addr,
        },
    );
    let (_, owner) = a.register("owner").await;
    let (uid, user) = a.register("user").await;
    for round in 0..4 {
        // A kick on node A racing four new channels on node B; the user
        // is connected to B, where the channel rooms are joined.
        let community = a.community(&owner, &format!("k{round}")).await;
        let code = a.invite(&owner, community).await;
        a.join(&user, &code).await;
        let mut ws = nodes[1].client(uid).await;
        let owner_ref = &owner;
        let b_ref = &b;
        let creates = (0..4).map(|n| async move {
            let path = format!("/communities/{community}/channels");
            let body = json!({"name": format!("new-{n}")});
            b_ref.call("POST", &path, Some(owner_ref), Some(body)).await
        });
        let kick_path = format!("/communities/{community}/members/{uid}");
        let kick = a.call("DELETE", &kick_path, Some(&owner), None);
        let (created, kick) = tokio::join!(futures_util::future::join_all(creates), kick);
        assert_eq!(kick.status, 204, "{:?}", kick.body);
        // Node A's room changes reach B through the engine, in order, and
        // its `reauth_required` comes last.
        ws.recv_op("reauth_required").await;
        for reply in created {
            assert_eq!(reply.status, 201, "{:?}", reply.body);
            let channel = id(&reply.body["id"]);
            ends_out_of(&mut ws, channel, &format!("round {round}: kicked")).await;
        }

        // A join on node B racing a ban on node A.
        let community = a.community(&owner, &format!("b{round}")).await;
        let channel = a.channel(&owner, community, "general", false).await;
        let code = a.invite(&owner, community).await;
        let join_path = format!("/invites/{code}/join");
        let join = b.call("POST", &join_path, Some(&user), None);
        let ban_path = format!("/communities/{community}/bans/{uid}");
        let ban = a.call("PUT", &ban_path, Some(&owner), None);
        let (_, ban) = tokio::join!(join, ban);
        assert_eq!(ban.status, 200, "{:?}", ban.body);
        ws.recv_op("reauth_required").await;
        ends_out_of(&mut ws, channel, &format!("round {round}: banned")).await;
    }
    drop(nodes);
    pg.drop_schema().await;
}

#[tokio::test]
async fn redis_membership_races() {
    races_across_nodes(Backend::Redis).await;
}

#[tokio::test]
async fn nats_membership_races() {
    races_across_nodes(Backend::Nats).await;
}
