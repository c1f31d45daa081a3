//! A NATS node cut off from the server (through a proxy) applies the
//! membership changes it missed once it is back, or makes its connections
//! rejoin when the control log no longer holds them.

#![cfg(feature = "nats")]

#[path = "support/proxy.rs"]
mod proxy;
#[path = "support/cluster.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chinwag_protocol::model::UserRole;
use chinwag_protocol::{CloseCode, Id};
use chinwag_realtime::{AnyEngine, ConnHandle, HistoryConfig, Hub, Outbox, RoomId};
use proxy::Proxy;
use support::{Broker, Kind};

/// Node 0 on the server, node 1 behind a proxy, and a connection of user 1
/// on node 1 in `room`.
async fn member_behind_a_proxy(
    broker: &Broker,
    room: &RoomId,
) -> (Vec<Hub>, Proxy, Arc<ConnHandle>, Outbox) {
    let upstream: SocketAddr = broker
        .url()
        .trim_start_matches("nats://")
        .parse()
        .expect("nats url is host:port");
    let proxy = Proxy::start(upstream).await;
    let hubs = vec![
        broker.node(HistoryConfig::default()).await,
        broker
            .node_at(&format!("nats://{}", proxy.addr), HistoryConfig::default())
            .await,
    ];
    let (conn, outbox) = hubs[1].register(Id(1), UserRole::User);
    hubs[1].join(&conn, room).await.unwrap();
    (hubs, proxy, conn, outbox)
}

/// Cuts node 1 off and gives the server a moment to drop its connection.
async fn blip(proxy: &Proxy) {
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_kick_sent_during_a_blip_is_applied_after_it() {
    let Some(broker) = Broker::get(Kind::Nats) else {
        return;
    };
    let room = RoomId::channel(Id(1));
    let (hubs, proxy, _conn, mut outbox) = member_behind_a_proxy(&broker, &room).await;
    blip(&proxy).await;
    hubs[0].leave_user(Id(1), &room, "kicked").await.unwrap();
    proxy.heal();
    support::assert_kicked(&hubs, &room, &mut outbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_changes_the_log_no_longer_holds_make_connections_rejoin() {
    let Some(broker) = Broker::get(Kind::Nats) else {
        return;
    };
    let room = RoomId::channel(Id(1));
    let (hubs, proxy, conn, _outbox) = member_behind_a_proxy(&broker, &room).await;
    let AnyEngine::Nats(engine) = hubs[0].engine() else {
        unreachable!()
    };
    blip(&proxy).await;
    hubs[0].leave_user(Id(1), &room, "kicked").await.unwrap();
    // The log loses the kick before node 1 is back.
    let admin = async_nats::connect(broker.url()).await.unwrap();
    async_nats::jetstream::new(admin)
        .get_stream(engine.control_stream_name())
        .await
        .unwrap()
        .purge()
        .await
        .unwrap();
    proxy.heal();
    support::eventually(support::WAIT, "rejoin requested", || async {
        conn.close_requested() == Some(CloseCode::Rejoin)
    })
    .await;
}
