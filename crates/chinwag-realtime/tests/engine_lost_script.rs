//! When Redis loses the publish script (a restart, a failover, `SCRIPT
//! FLUSH`), publishes load it again and go on: no event is refused, lost,
//! repeated or reordered, whether it came alone or in a run.
//!
//! `SCRIPT FLUSH` empties the script cache of the whole Redis server, so
//! this lives in its own test binary (cargo runs binaries one at a time).

#![cfg(feature = "redis")]

#[path = "support/cluster.rs"]
mod support;

use chinwag_protocol::Id;
use chinwag_protocol::model::UserRole;
use chinwag_realtime::engine::{Engine, Publication};
use chinwag_realtime::{HistoryConfig, RoomId};
use support::{Broker, Kind, events, number, numbered, quiet};

async fn flush_scripts() {
    let mut redis = support::redis_admin().await;
    let () = ::redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut redis)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_survive_a_lost_script() {
    let Some(broker) = Broker::get(Kind::Redis) else {
        return;
    };
    let hubs = broker.nodes(2, HistoryConfig::default()).await;
    let room = RoomId::channel(Id(1));
    let (conn, mut outbox) = hubs[1].register(Id(1), UserRole::User);
    hubs[1].join(&conn, &room).await.unwrap();

    flush_scripts().await;
    let run = (1..=10)
        .map(|n| Publication {
            room: room.clone(),
            event: numbered(n),
            only_role: None,
        })
        .collect();
    let offsets: Vec<u64> = hubs[0]
        .engine()
        .publish_many(run)
        .await
        .into_iter()
        .map(|r| r.expect("published").expect("durable").offset)
        .collect();
    assert_eq!(offsets, (1..=10).collect::<Vec<u64>>());

    flush_scripts().await;
    let pos = hubs[0].broadcast(&room, numbered(11)).await.unwrap();
    assert_eq!(pos.map(|p| p.offset), Some(11));

    let got: Vec<(u64, i64)> = events(&mut outbox, 11)
        .await
        .iter()
        .map(|f| (f.offset().unwrap(), number(f)))
        .collect();
    let expected: Vec<(u64, i64)> = (1..=11).map(|n| (n as u64, n)).collect();
    assert_eq!(got, expected, "each event once, in order");
    quiet(&mut outbox).await;
}
