//! A cluster of hubs in one process, on a real broker (Redis or NATS), each
//! test isolated under a random key/subject prefix.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use chinwag_protocol::event::channel::ChannelRef;
use chinwag_protocol::event::typing::UserTyping;
use chinwag_protocol::{Event, Id};
use chinwag_realtime::engine::broker::{BrokerOptions, Reaped};
use chinwag_realtime::{
    AnyEngine, HistoryConfig, Hub, NodeId, Outbox, OutboxConfig, Outgoing, SharedFrame,
};
use chinwag_testkit::Backend;
use tokio::sync::broadcast;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(5);

/// The broker engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Redis.
    Redis,
    /// NATS with JetStream.
    Nats,
}

/// A broker and a prefix private to one test.
#[derive(Debug, Clone)]
pub struct Broker {
    pub kind: Kind,
    url: String,
    prefix: String,
}

impl Broker {
    /// The broker for `kind`, or `None` when this run skips it.
    pub fn get(kind: Kind) -> Option<Broker> {
        let backend = match kind {
            Kind::Redis => Backend::Redis,
            Kind::Nats => Backend::Nats,
        };
        let url = backend.url()?;
        Some(Broker {
            kind,
            url,
            prefix: format!("t{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff),
        })
    }

    /// Options with a fast heartbeat so liveness tests stay short.
    pub fn options(&self, history: HistoryConfig) -> BrokerOptions {
        BrokerOptions {
            heartbeat: Duration::from_millis(100),
            node_ttl: Duration::from_millis(600),
            ..BrokerOptions::new(&self.prefix, history)
        }
    }

    /// The broker's address.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A node (hub) on this broker. Fails the test if the broker cannot be
    /// reached.
    pub async fn node(&self, history: HistoryConfig) -> Hub {
        self.node_at(&self.url, history).await
    }

    /// A node reaching this broker at `url` (e.g. through a proxy).
    pub async fn node_at(&self, url: &str, history: HistoryConfig) -> Hub {
        let seed = Hub::seed(NodeId::generate(None), OutboxConfig::default());
        let (local, control) = (seed.local.clone(), seed.control.clone());
        let opts = self.options(history);
        let engine = match self.kind {
            Kind::Redis => {
                #[cfg(feature = "redis")]
                {
                    AnyEngine::Redis(
                        chinwag_realtime::engine::redis::RedisEngine::connect_with(
                            url, local, control, opts,
                        )
                        .await
                        .expect("connect to redis"),
                    )
                }
                #[cfg(not(feature = "redis"))]
                unreachable!("{url}{local:?}{control:?}{opts:?}")
            }
            Kind::Nats => {
                #[cfg(feature = "nats")]
                {
                    AnyEngine::Nats(
                        chinwag_realtime::engine::nats::NatsEngine::connect_with(
                            url, local, control, opts,
                        )
                        .await
                        .expect("connect to nats"),
                    )
                }
                #[cfg(not(feature = "nats"))]
                unreachable!("{url}{local:?}{control:?}{opts:?}")
            }
        };
        Hub::start(seed, engine)
    }

    /// `n` nodes.
    pub async fn nodes(&self, n: usize, history: HistoryConfig) -> Vec<Hub> {
        let mut hubs = Vec::new();
        for _ in 0..n {
            hubs.push(self.node(history).await);
        }
        hubs
    }
}

/// A plain connection to the test Redis, for what the engine never does
/// itself (killing clients, flushing scripts).
#[cfg(feature = "redis")]
pub async fn redis_admin() -> ::redis::aio::MultiplexedConnection {
    let url = Backend::Redis.url().expect("redis");
    ::redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis")
}

/// Room messages a node's engine received from the broker.
pub fn room_messages(hub: &Hub) -> u64 {
    match hub.engine() {
        #[cfg(feature = "redis")]
        AnyEngine::Redis(e) => e.room_messages_received(),
        #[cfg(feature = "nats")]
        AnyEngine::Nats(e) => e.room_messages_received(),
        _ => unreachable!("not a broker engine"),
    }
}

/// The node's reaped-connection notices.
pub fn reaped(hub: &Hub) -> broadcast::Receiver<Reaped> {
    match hub.engine() {
        #[cfg(feature = "redis")]
        AnyEngine::Redis(e) => e.subscribe_reaped(),
        #[cfg(feature = "nats")]
        AnyEngine::Nats(e) => e.subscribe_reaped(),
        _ => unreachable!("not a broker engine"),
    }
}

/// A durable event whose channel id numbers it.
pub fn numbered(n: i64) -> Event {
    Event::ChannelCreated(ChannelRef {
        community_id: Id(1),
        channel_id: Id(n),
    })
}

/// The number of a [`numbered`] event.
pub fn number(frame: &SharedFrame) -> i64 {
    match frame.event() {
        Event::ChannelCreated(c) => c.channel_id.0,
        other => panic!("not a numbered event: {other:?}"),
    }
}

/// An ephemeral event.
pub fn typing(user: i64) -> Event {
    Event::UserTyping(UserTyping {
        channel_id: Id(1),
        user_id: Id(user),
        expires_at: 0,
    })
}

/// The next item in an outbox, failing after [`WAIT`].
pub async fn next(outbox: &mut Outbox) -> Outgoing {
    tokio::time::timeout(WAIT, outbox.recv())
        .await
        .expect("timed out waiting for the outbox")
        .expect("outbox closed")
}

/// The next item, which must be the connection leaving a room: the room
/// and the reason.
pub async fn left(outbox: &mut Outbox) -> (chinwag_realtime::RoomId, String) {
    match next(outbox).await {
        Outgoing::Control(control) => match *control {
            chinwag_realtime::conn::Control::Left(room, reason) => (room, reason),
            other => panic!("expected a room left, got {other:?}"),
        },
        other => panic!("expected a room left, got {other:?}"),
    }
}

/// Asserts that user 1's connection on `hubs[1]`, whose outbox is given,
/// was taken out of `room` ("kicked") and gets nothing more from it.
pub async fn assert_kicked(hubs: &[Hub], room: &chinwag_realtime::RoomId, outbox: &mut Outbox) {
    assert_eq!(left(outbox).await, (room.clone(), "kicked".to_string()));
    assert_eq!(hubs[1].room_size(room), 0);
    hubs[0].broadcast(room, numbered(1)).await.unwrap();
    quiet(outbox).await;
}

/// The next `n` items, all of which must be events.
pub async fn events(outbox: &mut Outbox, n: usize) -> Vec<Arc<SharedFrame>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match next(outbox).await {
            Outgoing::Event(frame) => out.push(frame),
            Outgoing::Control(c) => panic!("expected an event, got {c:?}"),
        }
    }
    out
}

/// Asserts nothing more arrives within a short while.
pub async fn quiet(outbox: &mut Outbox) {
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(300), outbox.recv()).await {
        panic!("expected nothing, got {item:?}");
    }
}

/// Polls `check` until it holds, failing after `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Generates one `#[tokio::test]` per scenario and broker.
#[macro_export]
macro_rules! broker_suite {
    ($($scenario:ident),* $(,)?) => {
        #[cfg(feature = "redis")]
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if let Some(broker) = $crate::support::Broker::get($crate::support::Kind::Redis) {
                        super::$scenario(broker).await;
                    }
                }
            )*
        }
        #[cfg(feature = "nats")]
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if let Some(broker) = $crate::support::Broker::get($crate::support::Kind::Nats) {
                        super::$scenario(broker).await;
                    }
                }
            )*
        }
    };
}
