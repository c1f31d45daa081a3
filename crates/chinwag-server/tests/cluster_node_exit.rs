//! A node that stops (SIGTERM) or dies (SIGKILL): the users who were only
//! on it go offline and leave voice, as seen from a node that stays. Three
//! real `chinwag` processes on one PostgreSQL schema, over Redis and over
//! NATS.
//!
//! The stopping node runs its own users' offline checks before it exits
//! (they are tasks in that process, and no other node would send them);
//! the dead node's users are reaped by a survivor, whose presence check
//! then takes them out of voice too.

#[path = "chat_support.rs"]
mod chat_support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use chat_support::support::Client;
use chat_support::support::process::spawn_node_with;
use chat_support::{Api, id};
use chinwag_testkit::Backend;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// The presence grace period the nodes run with.
const GRACE_MS: &str = "200";

/// Longer than a dead node's reaping takes (node TTL 6 s, plus a
/// heartbeat, plus the grace period).
const SETTLE: Duration = Duration::from_secs(30);

async fn client_at(addr: SocketAddr, token: &str) -> Client {
    let mut client = Client::connect(&format!("ws://{addr}/ws?token={token}")).await;
    assert_eq!(client.recv().await["op"], "hello");
    client.ready = client.recv_op("ready").await;
    client
}

/// The next event frame, or `None` once `SETTLE` has passed since `since`.
async fn next_event(client: &mut Client, since: tokio::time::Instant) -> Option<Value> {
    loop {
        let left = SETTLE.checked_sub(since.elapsed())?;
        let frame = match tokio::time::timeout(left, client.ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => serde_json::from_str::<Value>(&text).unwrap(),
            Ok(Some(Ok(_))) => continue,
            Ok(other) => panic!("the watcher's connection ended: {other:?}"),
            Err(_) => return None,
        };
        if frame["op"] == "event" {
            return Some(frame);
        }
    }
}

async fn users_of_a_stopped_or_dead_node_go_offline_and_leave_voice(backend: Backend) {
    let Some(engine) = backend.url() else { return };
    let Some(pg) = chinwag_store::testing::postgres_store().await else {
        return;
    };
    let prefix = format!("x{:x}", rand::random::<u64>());
    let database = pg.url();
    let node = |name: &'static str| {
        let (engine, prefix, database) = (&engine, &prefix, &database);
        async move {
            spawn_node_with(engine, prefix, name, |command| {
                command
                    .args(["--database-url", database])
                    .env("CHINWAG_PRESENCE__OFFLINE_GRACE_MS", GRACE_MS);
            })
            .await
        }
    };
    let stays = node("stays").await;
    let mut stops = node("stops").await;
    let mut dies = node("dies").await;

    let api = Api { addr: stays.addr };
    let (_, watcher_t) = api.register("watcher").await;
    let (stopped, stopped_t) = api.register("stopped").await;
    let (killed, killed_t) = api.register("killed").await;
    let community = api.community(&watcher_t, "Guild").await;
    let lounge = id(&api
        .ok(
            201,
            "POST",
            &format!("/communities/{community}/channels"),
            &watcher_t,
            Some(json!({"name": "lounge", "kind": "voice"})),
        )
        .await["id"]);
    let code = api.invite(&watcher_t, community).await;
    api.join(&stopped_t, &code).await;
    api.join(&killed_t, &code).await;

    let mut watcher = client_at(stays.addr, &watcher_t).await;
    let _stopped_ws = client_at(stops.addr, &stopped_t).await;
    let _killed_ws = client_at(dies.addr, &killed_t).await;
    for token in [&stopped_t, &killed_t] {
        api.ok(
            200,
            "PUT",
            &format!("/channels/{lounge}/voice"),
            token,
            None,
        )
        .await;
    }

    stops.terminate().await;
    dies.child.kill().unwrap(); // SIGKILL
    dies.child.wait().unwrap();

    let since = tokio::time::Instant::now();
    let (mut offline, mut left) = (HashSet::new(), HashSet::new());
    while offline.len() < 2 || left.len() < 2 {
        let Some(event) = next_event(&mut watcher, since).await else {
            panic!("after {SETTLE:?}: offline {offline:?}, left voice {left:?}");
        };
        match event["type"].as_str().unwrap() {
            "USER_OFFLINE" => {
                offline.insert(id(&event["data"]["presence"]["user_id"]));
            }
            "VOICE_CHANNEL_USER_LEFT" => {
                left.insert(id(&event["data"]["state"]["user_id"]));
            }
            _ => {}
        }
    }
    assert_eq!(offline, HashSet::from([stopped, killed]));
    assert_eq!(left, HashSet::from([stopped, killed]));
    let list = api
        .ok(
            200,
            "GET",
            &format!("/channels/{lounge}/voice"),
            &watcher_t,
            None,
        )
        .await;
    assert_eq!(list, json!([]));
    drop((stays, stops, dies));
    pg.drop_schema().await;
}

#[tokio::test]
async fn redis_users_of_a_stopped_or_dead_node_go_offline_and_leave_voice() {
    users_of_a_stopped_or_dead_node_go_offline_and_leave_voice(Backend::Redis).await;
}

#[tokio::test]
async fn nats_users_of_a_stopped_or_dead_node_go_offline_and_leave_voice() {
    users_of_a_stopped_or_dead_node_go_offline_and_leave_voice(Backend::Nats).await;
}
