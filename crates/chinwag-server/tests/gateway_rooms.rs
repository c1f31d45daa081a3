//! Rooms over real sockets: broadcast, `to_user`, topic authorization.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::event::topic::TopicMessage;
use chinwag_protocol::{Event, Id};
use serde_json::json;
use support::TestServer;

#[tokio::test]
async fn two_clients_in_a_room_both_receive_a_broadcast() {
    let server = TestServer::start().await;
    let mut alice = server.client(1).await;
    let mut bob = server.client(2).await;
    alice.subscribe("public.lobby").await;
    bob.subscribe("public.lobby").await;

    alice
        .send(json!({"op":"publish","topic":"public.lobby","data":{"text":"hi"},"nonce":"p1"}))
        .await;
    let mut acked = false;
    for client in [&mut alice, &mut bob] {
        let event = loop {
            let frame = client.recv().await;
            if frame["op"] == "ack" {
                assert_eq!(frame["nonce"], "p1");
                acked = true;
            } else if frame["room"] == "topic:public.lobby" {
                break frame;
            }
        };
        assert_eq!(event["room"], "topic:public.lobby");
        assert_eq!(event["type"], "TOPIC_MESSAGE");
        assert_eq!(event["data"]["data"]["text"], "hi");
        assert_eq!(event["data"]["from"], "1");
        assert_eq!(event["offset"], 1);
    }
    if !acked {
        assert_eq!(alice.recv_op("ack").await["nonce"], "p1");
    }
}

#[tokio::test]
async fn to_user_reaches_every_connection_of_the_user_and_nobody_else() {
    let server = TestServer::start().await;
    let mut phone = server.client(7).await;
    let mut laptop = server.client(7).await;
    let mut other = server.client(8).await;

    let event = Event::TopicMessage(TopicMessage {
        topic: "direct".into(),
        from: None,
        origin_node: "test".into(),
        data: json!({"n": 1}),
    });
    server.state.hub.to_user(Id(7), event).await.unwrap();
    for device in [&mut phone, &mut laptop] {
        let frame = loop {
            let frame = device.recv_in("user:7").await;
            if frame["type"] == "TOPIC_MESSAGE" {
                break frame;
            }
        };
        assert_eq!(frame["data"]["data"]["n"], 1);
    }
    // The other user gets nothing: its next frame is the pong to our ping.
    other.send(json!({"op":"ping","nonce":"x"})).await;
    loop {
        let next = other.recv().await;
        if next["op"] == "pong" {
            break;
        }
        assert_eq!(next["type"], "USER_ONLINE", "user 8 received {next}");
    }
}

#[tokio::test]
async fn to_conn_reaches_exactly_one_connection() {
    let server = TestServer::start().await;
    let mut first = server.client(3).await;
    let mut second = server.client(3).await;
    let conn = chinwag_realtime::ConnId::parse(second.ready["conn_id"].as_str().unwrap()).unwrap();
    let event = Event::TopicMessage(TopicMessage {
        topic: "direct".into(),
        from: None,
        origin_node: "test".into(),
        data: json!({"only": "second"}),
    });
    server.state.hub.to_conn(conn, event).await.unwrap();
    let frame = second.recv_in(&format!("conn:{conn}")).await;
    assert!(frame.get("offset").is_none());
    first.send(json!({"op":"ping"})).await;
    loop {
        let next = first.recv().await;
        if next["op"] == "pong" {
            break;
        }
        assert_ne!(
            next["room"],
            format!("conn:{conn}"),
            "wrong connection got it"
        );
    }
}

#[tokio::test]
async fn unauthorized_topic_subscription_gets_forbidden() {
    let server = TestServer::start().await;
    let mut client = server.client(1).await;
    client
        .send(json!({"op":"subscribe","topic":"secret.plans","nonce":"s"}))
        .await;
    let reply = client.recv_op("error").await;
    assert_eq!(reply["code"], "FORBIDDEN");
    assert_eq!(reply["nonce"], "s");
    // Publishing there is refused too, and nothing was joined.
    client
        .send(json!({"op":"publish","topic":"secret.plans","data":{},"nonce":"p"}))
        .await;
    assert_eq!(client.recv_op("error").await["code"], "FORBIDDEN");
    assert_eq!(
        server
            .state
            .hub
            .room_size(&chinwag_realtime::RoomId::topic("secret.plans").unwrap()),
        0
    );
}

#[tokio::test]
async fn mixed_role_rooms_accept_only_shared_events() {
    use chinwag_protocol::event::notification::NotificationRead;
    use chinwag_realtime::{HubError, RoomId};
    let server = TestServer::start().await;
    let users_only = Event::NotificationRead(NotificationRead {
        notification_ids: vec![Id(1)],
    });
    let err = server
        .state
        .hub
        .broadcast(&RoomId::channel(Id(5)), users_only.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::NotShared(..)), "{err}");
    // A user: room holds one role, so it accepts the event.
    server
        .state
        .hub
        .broadcast(&RoomId::user(Id(5)), users_only)
        .await
        .unwrap();
}
