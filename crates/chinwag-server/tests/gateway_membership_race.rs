//! A membership change that lands while a connection is reading its grants
//! (at connect, or on `reauth`) is not undone by the joins that follow: a
//! user kicked in that window ends up outside the room.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::Id;
use chinwag_realtime::RoomId;
use serde_json::{Value, json};
use support::{Client, TestServer, note};

/// Joins `witness`'s user to a fresh room on every node and waits for its
/// `room_joined`. Control messages apply in order, so every one sent before
/// has been applied by then.
async fn settle_controls(server: &TestServer, witness: &mut Client, user: i64, n: u64) {
    let marker = RoomId::channel(Id(1000 + i64::try_from(n).unwrap()));
    server.state.hub.join_user(Id(user), &marker).await.unwrap();
    loop {
        let frame = witness.recv().await;
        if frame["op"] == "room_joined" && frame["room"] == marker.as_str() {
            return;
        }
    }
}

/// Kicks user 7 from `room` (grant and live membership) and waits until
/// the leave is applied on the node.
async fn kick(
    server: &TestServer,
    policy: &support::TestPolicy,
    room: &RoomId,
    witness: &mut Client,
    n: u64,
) {
    policy.revoke(7, room);
    server
        .state
        .hub
        .leave_user(Id(7), room, "kicked")
        .await
        .unwrap();
    settle_controls(server, witness, 8, n).await;
}

/// Connects `user` with a URL token in a task of its own: the client and
/// the frame after `hello`.
fn connect_in_background(
    server: &TestServer,
    user: i64,
) -> tokio::task::JoinHandle<(Client, Value)> {
    let url = server.url(&format!("?token={}", server.token(user)));
    tokio::spawn(async move {
        let mut client = Client::connect(&url).await;
        assert_eq!(client.recv().await["op"], "hello");
        let ready = client.recv().await;
        (client, ready)
    })
}

/// Sends a note to `room`, then a ping: the event frames before the pong.
async fn events_after_note(server: &TestServer, client: &mut Client, room: &RoomId) -> Vec<Value> {
    server.state.hub.broadcast(room, note(1)).await.unwrap();
    client.send(json!({"op":"ping","nonce":"after-note"})).await;
    let mut events = Vec::new();
    loop {
        let frame = client.recv().await;
        if frame["op"] == "pong" && frame["nonce"] == "after-note" {
            return events;
        }
        if frame["op"] == "event" {
            events.push(frame);
        }
    }
}

#[tokio::test]
async fn a_kick_while_connecting_leaves_the_new_connection_outside() {
    let (server, policy) = TestServer::with_policy(|_| {}).await;
    let channel = RoomId::channel(Id(1));
    policy.grant(7, channel.clone());
    let mut witness = server.client(8).await;

    // The connection reads its grants (the channel still among them) and
    // waits; the kick lands, then the connection joins what it read.
    let (read, release) = policy.hold_next_grants();
    let connecting = connect_in_background(&server, 7);
    read.await.unwrap();
    kick(&server, &policy, &channel, &mut witness, 1).await;
    release.send(()).unwrap();

    let (mut client, ready) = connecting.await.unwrap();
    assert_eq!(ready["op"], "ready", "{ready}");
    let rooms: Vec<&str> = ready["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["room"].as_str().unwrap())
        .collect();
    assert!(!rooms.contains(&channel.as_str()), "{ready}");
    let events = events_after_note(&server, &mut client, &channel).await;
    assert!(events.is_empty(), "a kicked user got {events:?}");
}

#[tokio::test]
async fn a_kick_during_reauth_is_not_undone() {
    let (server, policy) = TestServer::with_policy(|_| {}).await;
    let channel = RoomId::channel(Id(1));
    policy.grant(7, channel.clone());
    let mut client = server.client(7).await;
    let mut witness = server.client(8).await;

    let (read, release) = policy.hold_next_grants();
    client
        .send(json!({"op":"reauth","token":server.token(7),"nonce":"r"}))
        .await;
    read.await.unwrap();
    kick(&server, &policy, &channel, &mut witness, 2).await;
    release.send(()).unwrap();

    let reauthed = client.recv_op("reauthed").await;
    assert_eq!(reauthed["rooms_added"], json!([]), "{reauthed}");
    let events = events_after_note(&server, &mut client, &channel).await;
    assert!(events.is_empty(), "a kicked user got {events:?}");
}

#[tokio::test]
async fn a_join_while_connecting_is_kept() {
    let (server, policy) = TestServer::with_policy(|_| {}).await;
    let channel = RoomId::channel(Id(1));
    let mut witness = server.client(8).await;

    // The connection reads its grants (no channel yet) and waits; the
    // user is added to the channel meanwhile.
    let (read, release) = policy.hold_next_grants();
    let connecting = connect_in_background(&server, 7);
    read.await.unwrap();
    policy.grant(7, channel.clone());
    server.state.hub.join_user(Id(7), &channel).await.unwrap();
    settle_controls(&server, &mut witness, 8, 3).await;
    release.send(()).unwrap();

    let (mut client, ready) = connecting.await.unwrap();
    assert_eq!(ready["op"], "ready", "{ready}");
    // What the client is told about the channel must end in "joined"
    // (`ready` or `room_joined`, not undone by a `room_left`), and its
    // events must flow.
    let mut joined = ready["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["room"] == channel.as_str());
    server.state.hub.broadcast(&channel, note(1)).await.unwrap();
    client.send(json!({"op":"ping","nonce":"end"})).await;
    let mut events = 0;
    loop {
        let frame = client.recv().await;
        match frame["op"].as_str() {
            Some("pong") if frame["nonce"] == "end" => break,
            Some("room_joined") if frame["room"] == channel.as_str() => joined = true,
            Some("room_left") if frame["room"] == channel.as_str() => joined = false,
            Some("event") if frame["room"] == channel.as_str() => events += 1,
            _ => {}
        }
    }
    assert!(joined, "the client was told it left a room it is in");
    assert_eq!(events, 1);
}
