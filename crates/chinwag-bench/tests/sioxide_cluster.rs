//! The socketioxide peer clusters through Redis: an event published on one
//! node reaches a subscriber of the other. This is what the bench's
//! cluster scenario measures for socketioxide.

use std::time::Duration;

use chinwag_bench::client::{self, Incoming, Proto, TOPIC};
use chinwag_bench::{jwt, sioxide};
use chinwag_testkit::Backend;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "cluster-test-secret";

async fn node(redis: &str) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let redis = redis.to_owned();
    tokio::spawn(async move {
        if let Err(err) = sioxide::run(listener, SECRET.into(), Some(redis)).await {
            panic!("socketioxide node failed: {err:#}");
        }
    });
    addr
}

#[tokio::test]
async fn an_event_published_on_one_node_reaches_the_other() {
    let Some(redis) = Backend::Redis.url() else {
        return;
    };
    let (a, b) = (node(&redis).await, node(&redis).await);
    let token = jwt::mint(SECRET, 1).unwrap();
    let (mut subscriber, _) = client::open(Proto::SocketIo, a, None, &token, None)
        .await
        .unwrap();
    client::subscribe(Proto::SocketIo, &mut subscriber, TOPIC)
        .await
        .unwrap();
    let (mut publisher, _) = client::open(Proto::SocketIo, b, None, &token, None)
        .await
        .unwrap();
    // An acknowledged subscribe shows the node has registered the
    // connection's handlers (see `client::subscribe`), so the publish is heard.
    client::subscribe(Proto::SocketIo, &mut publisher, "elsewhere")
        .await
        .unwrap();
    let frame = client::publish_frame(Proto::SocketIo, 42, Some(1)).unwrap();
    publisher.send(Message::text(frame)).await.unwrap();

    let received = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(msg) = subscriber.next().await {
            if let Message::Text(text) = msg.unwrap()
                && let Incoming::Event { seq, .. } = client::classify(Proto::SocketIo, &text)
            {
                return seq;
            }
        }
        panic!("the subscriber's connection closed");
    })
    .await
    .expect("no event crossed from node B to node A within 10 s");
    assert_eq!(received, 42);
}
