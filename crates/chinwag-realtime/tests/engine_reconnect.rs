//! A node whose broker subscription drops reconnects, resubscribes its
//! rooms and delivers what it missed, in order, exactly once.
//!
//! This kills every pub/sub client of the Redis server, so it lives in its
//! own test binary (cargo runs binaries one at a time).

#![cfg(feature = "redis")]

#[path = "support/cluster.rs"]
mod support;

use chinwag_protocol::Id;
use chinwag_protocol::model::UserRole;
use chinwag_realtime::{AnyEngine, HistoryConfig, RoomId};
use support::{Broker, Kind, events, number, numbered, quiet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_subscriber_reconnects_and_catches_up() {
    let Some(broker) = Broker::get(Kind::Redis) else {
        return;
    };
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
    let killed: i64 = ::redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(killed >= 2);
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
