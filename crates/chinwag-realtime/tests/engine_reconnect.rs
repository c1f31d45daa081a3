//! A node whose broker subscription drops reconnects, resubscribes its
//! rooms and delivers what it missed, in order, exactly once; it applies
//! the membership changes it missed, or makes its connections rejoin when
//! the control log no longer holds them.
//!
//! This kills every pub/sub client of the Redis server, so it lives in its
//! own test binary (cargo runs binaries one at a time) and its tests take
//! turns.

#![cfg(feature = "redis")]

#[path = "support/cluster.rs"]
mod support;

use chinwag_protocol::model::UserRole;
use chinwag_protocol::{CloseCode, Id};
use chinwag_realtime::{AnyEngine, HistoryConfig, Hub, RoomId};
use support::{Broker, Kind, events, number, numbered, quiet};

/// The tests here drop every subscriber of the server, so they take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Drops every pub/sub connection of the Redis server (each node's
/// subscriber), as a network blip would.
async fn kill_pubsub(redis: &mut ::redis::aio::MultiplexedConnection) {
    let killed: i64 = ::redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(redis)
        .await
        .unwrap();
    assert!(killed >= 2);
}

/// Two nodes and a connection of user 1 on node 1 in `room`.
async fn member_on_node_1(
    broker: &Broker,
    room: &RoomId,
) -> (
    Vec<Hub>,
    std::sync::Arc<chinwag_realtime::ConnHandle>,
    chinwag_realtime::Outbox,
) {
    let hubs = broker.nodes(2, HistoryConfig::default()).await;
    let (conn, outbox) = hubs[1].register(Id(1), UserRole::User);
    hubs[1].join(&conn, room).await.unwrap();
    (hubs, conn, outbox)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_kick_sent_during_a_blip_is_applied_after_it() {
    let Some(broker) = Broker::get(Kind::Redis) else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let room = RoomId::channel(Id(1));
    let (hubs, _conn, mut outbox) = member_on_node_1(&broker, &room).await;
    let mut redis = support::redis_admin().await;
    kill_pubsub(&mut redis).await;
    // Sent while node 1 is not subscribed to the control channel.
    hubs[0].leave_user(Id(1), &room, "kicked").await.unwrap();
    support::assert_kicked(&hubs, &room, &mut outbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_changes_the_log_no_longer_holds_make_connections_rejoin() {
    let Some(broker) = Broker::get(Kind::Redis) else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let room = RoomId::channel(Id(1));
    let (hubs, conn, _outbox) = member_on_node_1(&broker, &room).await;
    let AnyEngine::Redis(engine) = hubs[1].engine() else {
        unreachable!()
    };
    let mut redis = support::redis_admin().await;
    kill_pubsub(&mut redis).await;
    hubs[0].leave_user(Id(1), &room, "kicked").await.unwrap();
    // The log loses the kick before node 1 is back.
    let _: i64 = ::redis::cmd("XTRIM")
        .arg(engine.control_log_key())
        .arg("MAXLEN")
        .arg(0)
        .query_async(&mut redis)
        .await
        .unwrap();
    support::eventually(support::WAIT, "rejoin requested", || async {
        conn.close_requested() == Some(CloseCode::Rejoin)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_subscriber_reconnects_and_catches_up() {
    let Some(broker) = Broker::get(Kind::Redis) else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let hubs = broker.nodes(2, HistoryConfig::default()).await;
    let room = RoomId::channel(Id(1));
    let (conn, mut outbox) = hubs[1].register(Id(1), UserRole::User);
    hubs[1].join(&conn, &room).await.unwrap();
    hubs[0].broadcast(&room, numbered(1)).await.unwrap();
    assert_eq!(number(&events(&mut outbox, 1).await[0]), 1);

    let AnyEngine::Redis(engine) = hubs[1].engine() else {
        unreachable!()
    };
    let channel = engine.room_channel(&room);
    let mut redis = support::redis_admin().await;
    kill_pubsub(&mut redis).await;
    // Published while node 1 is not subscribed.
    for n in 2..=5 {
        hubs[0].broadcast(&room, numbered(n)).await.unwrap();
    }
    let got = events(&mut outbox, 4).await;
    assert_eq!(
        got.iter().map(|f| number(f)).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    // Live again once resubscribed.
    support::eventually(support::WAIT, "resubscribed", || {
        let (mut redis, channel) = (redis.clone(), channel.clone());
        async move {
            let (_, n): (String, i64) = ::redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(channel)
                .query_async(&mut redis)
                .await
                .unwrap();
            n == 1
        }
    })
    .await;
    hubs[0].broadcast(&room, numbered(6)).await.unwrap();
    let got = events(&mut outbox, 1).await;
    assert_eq!(number(&got[0]), 6);
    assert_eq!(got[0].offset(), Some(6));
    quiet(&mut outbox).await;
}
