//! A node cut off from the broker (through a proxy) for longer than the
//! node TTL is taken for dead: another node reaps its connections, and its
//! users go offline everywhere although their connections are still up.
//! Once the node is back, its heartbeat finds that it was reaped, and every
//! local connection is asked to reconnect (4013), which registers it again.

#![cfg(any(feature = "redis", feature = "nats"))]

#[path = "support/proxy.rs"]
mod proxy;
#[path = "support/cluster.rs"]
mod support;

use std::net::SocketAddr;

use chinwag_protocol::model::UserRole;
use chinwag_protocol::{CloseCode, Id};
use chinwag_realtime::engine::PresenceOp;
use chinwag_realtime::{Engine as _, HistoryConfig};
use proxy::Proxy;
use support::{Broker, Kind, WAIT, eventually};

async fn a_node_taken_for_dead_makes_its_connections_reconnect(kind: Kind) {
    let Some(broker) = Broker::get(kind) else {
        return;
    };
    let (scheme, address) = broker.url().split_once("://").expect("scheme://host:port");
    let upstream: SocketAddr = address.parse().expect("host:port");
    let proxy = Proxy::start(upstream).await;
    let healthy = broker.node(HistoryConfig::default()).await;
    let cut_off = broker
        .node_at(
            &format!("{scheme}://{}", proxy.addr),
            HistoryConfig::default(),
        )
        .await;
    let user = Id(1);
    let (conn, _outbox) = cut_off.register(user, UserRole::User);
    cut_off
        .engine()
        .presence(user, PresenceOp::Add(conn.id()))
        .await
        .unwrap();

    proxy.cut();
    let reader = healthy.clone();
    eventually(
        WAIT,
        "the healthy node reaps the cut-off connection",
        || {
            let reader = reader.clone();
            async move {
                let seen = reader.engine().presence(user, PresenceOp::Read).await;
                seen.unwrap().connections == 0
            }
        },
    )
    .await;
    assert_eq!(
        conn.close_requested(),
        None,
        "nothing to tell it while cut off"
    );

    proxy.heal();
    // The broker client retries with a growing back-off while cut off, so
    // its first try after the heal may be seconds away (seen on NATS).
    eventually(
        WAIT * 3,
        "the reaped connection is asked to reconnect",
        || {
            let asked = conn.close_requested();
            async move { asked == Some(CloseCode::Rejoin) }
        },
    )
    .await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_node_taken_for_dead_makes_its_connections_reconnect() {
    a_node_taken_for_dead_makes_its_connections_reconnect(Kind::Redis).await;
}

#[cfg(feature = "nats")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_a_node_taken_for_dead_makes_its_connections_reconnect() {
    a_node_taken_for_dead_makes_its_connections_reconnect(Kind::Nats).await;
}
