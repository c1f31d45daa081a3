//! Resume after a disconnect: everything missed, in order, once; an
//! explicit resync where history ends; no replay of rooms lost meanwhile.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::Id;
use chinwag_realtime::RoomId;
use serde_json::json;
use support::{Client, TestServer, note, position};

/// Reads frames until `resumed`, collecting (room, offset, n) of events.
async fn read_until_resumed(client: &mut Client) -> (Vec<(String, u64, u64)>, serde_json::Value) {
    let mut events = Vec::new();
    loop {
        let frame = client.recv().await;
        match frame["op"].as_str().unwrap() {
            "event" if frame["type"] == "TOPIC_MESSAGE" => events.push((
                frame["room"].as_str().unwrap().to_string(),
                frame["offset"].as_u64().unwrap(),
                frame["data"]["data"]["n"].as_u64().unwrap(),
            )),
            "resumed" => return (events, frame),
            _ => {}
        }
    }
}

async fn resume(server: &TestServer, user: i64, rooms: serde_json::Value) -> Client {
    let mut client = Client::connect(&server.url("")).await;
    assert_eq!(client.recv().await["op"], "hello");
    client
        .send(json!({"op":"identify","token":server.token(user),"resume":rooms}))
        .await;
    client.ready = client.recv_op("ready").await;
    client
}

#[tokio::test]
async fn five_hundred_missed_events_arrive_in_order_exactly_once() {
    let (server, policy) = TestServer::with_policy(|_| {}).await;
    let channel = RoomId::channel(Id(1));
    policy.grant(5, channel.clone());
    let client = server.client(5).await;
    // Each room's stream has its own epoch.
    let (user_epoch, user_offset) = position(&client.ready, "user:5");
    let (channel_epoch, channel_offset) = position(&client.ready, "channel:1");
    drop(client);

    // 500 events while away, interleaved across the user's two rooms, and
    // more arriving while the replay runs.
    for n in 0..500 {
        let room = if n % 2 == 0 {
            RoomId::user(Id(5))
        } else {
            channel.clone()
        };
        server.state.hub.broadcast(&room, note(n)).await.unwrap();
    }
    let hub = server.state.hub.clone();
    let live_channel = channel.clone();
    let live = tokio::spawn(async move {
        for n in 500..600 {
            hub.broadcast(&live_channel, note(n)).await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    let mut client = resume(
        &server,
        5,
        json!({
            "user:5": {"epoch": user_epoch, "offset": user_offset},
            "channel:1": {"epoch": channel_epoch, "offset": channel_offset},
        }),
    )
    .await;
    let (mut events, resumed) = read_until_resumed(&mut client).await;
    live.await.unwrap();
    assert_eq!(resumed["resync"], json!([]));
    assert_eq!(resumed["denied"], json!([]));
    let replayed: u64 = resumed["replayed"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(replayed >= 500, "{resumed}");
    // Then the live tail, until every event has arrived.
    while events.len() < 600 {
        let frame = client.recv_event().await;
        if frame["type"] == "TOPIC_MESSAGE" {
            events.push((
                frame["room"].as_str().unwrap().to_string(),
                frame["offset"].as_u64().unwrap(),
                frame["data"]["data"]["n"].as_u64().unwrap(),
            ));
        }
    }
    // Exactly the 600 events, each once, in publish order per room.
    let mut ns: Vec<u64> = events.iter().map(|e| e.2).collect();
    ns.sort_unstable();
    assert_eq!(ns, (0..600).collect::<Vec<_>>());
    for room in ["user:5", "channel:1"] {
        let offsets: Vec<u64> = events.iter().filter(|e| e.0 == room).map(|e| e.1).collect();
        assert!(
            offsets.windows(2).all(|w| w[1] == w[0] + 1),
            "{room}: {offsets:?}"
        );
        let ns: Vec<u64> = events.iter().filter(|e| e.0 == room).map(|e| e.2).collect();
        assert!(ns.windows(2).all(|w| w[0] < w[1]), "{room} out of order");
    }
    client.roundtrip().await;
}

#[tokio::test]
async fn a_gap_beyond_history_resyncs_exactly_that_room() {
    let (server, policy) = TestServer::with_policy(|c| c.history.max_len = 50).await;
    policy.grant(6, RoomId::channel(Id(2)));
    let client = server.client(6).await;
    let (user_epoch, user_offset) = position(&client.ready, "user:6");
    let (channel_epoch, channel_offset) = position(&client.ready, "channel:2");
    drop(client);
    for n in 0..120 {
        server
            .state
            .hub
            .broadcast(&RoomId::channel(Id(2)), note(n))
            .await
            .unwrap();
    }
    for n in 0..10 {
        server.state.hub.to_user(Id(6), note(n)).await.unwrap();
    }
    let mut client = resume(
        &server,
        6,
        json!({
            "user:6": {"epoch": user_epoch, "offset": user_offset},
            "channel:2": {"epoch": channel_epoch, "offset": channel_offset},
            "channel:99": {"epoch": channel_epoch, "offset": 0},
        }),
    )
    .await;
    let (events, resumed) = read_until_resumed(&mut client).await;
    assert_eq!(resumed["resync"].as_array().unwrap().len(), 1, "{resumed}");
    assert_eq!(resumed["resync"][0]["room"], "channel:2");
    assert_eq!(resumed["resync"][0]["reason"], "history_truncated");
    assert_eq!(resumed["resync"][0]["position"]["offset"], 120);
    // Ten notes plus this user's own presence events.
    assert!(resumed["replayed"]["user:6"].as_u64().unwrap() >= 10);
    assert_eq!(events.len(), 10);
    assert_eq!(resumed["denied"], json!(["channel:99"]));
    assert!(events.iter().all(|e| e.0 == "user:6"));

    // A stale epoch resyncs too.
    let mut client = resume(&server, 6, json!({"user:6": {"epoch": "old", "offset": 3}})).await;
    let (_, resumed) = read_until_resumed(&mut client).await;
    assert_eq!(resumed["resync"][0]["reason"], "epoch_changed");
}

#[tokio::test]
async fn rooms_lost_while_away_and_vetoed_events_are_not_replayed() {
    let (server, policy) = TestServer::with_policy(|_| {}).await;
    let kept = RoomId::channel(Id(3));
    let lost = RoomId::channel(Id(4));
    policy.grant(7, kept.clone());
    policy.grant(7, lost.clone());
    let client = server.client(7).await;
    let (kept_epoch, kept_offset) = position(&client.ready, "channel:3");
    let (lost_epoch, lost_offset) = position(&client.ready, "channel:4");
    drop(client);

    policy.revoke(7, &lost);
    server.state.hub.broadcast(&kept, note(1)).await.unwrap();
    let secret =
        chinwag_protocol::Event::TopicMessage(chinwag_protocol::event::topic::TopicMessage {
            topic: "note".into(),
            from: None,
            origin_node: "test".into(),
            data: json!({"n": 2, "secret": true}),
        });
    server.state.hub.broadcast(&kept, secret).await.unwrap();
    server.state.hub.broadcast(&lost, note(3)).await.unwrap();

    let mut client = resume(
        &server,
        7,
        json!({
            "channel:3": {"epoch": kept_epoch, "offset": kept_offset},
            "channel:4": {"epoch": lost_epoch, "offset": lost_offset},
        }),
    )
    .await;
    let (events, resumed) = read_until_resumed(&mut client).await;
    assert_eq!(events, vec![("channel:3".to_string(), kept_offset + 1, 1)]);
    assert_eq!(resumed["denied"], json!(["channel:4"]));
    assert_eq!(resumed["replayed"]["channel:3"], 1);
}

#[tokio::test]
async fn identify_resume_resubscribes_allowed_topics_only() {
    let (server, _policy) = TestServer::with_policy(|_| {}).await;
    let mut client = server.client(8).await;
    let ack = client.subscribe("public.news").await;
    let epoch = ack["data"]["epoch"].as_str().unwrap().to_string();
    drop(client);
    for n in 0..5 {
        publish_news(&server, n).await;
    }
    let mut client = resume(
        &server,
        8,
        json!({
            "topic:public.news": {"epoch": epoch, "offset": 0},
            "topic:secret.news": {"epoch": epoch, "offset": 0},
        }),
    )
    .await;
    let (events, resumed) = read_until_resumed(&mut client).await;
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|e| e.0 == "topic:public.news"));
    assert_eq!(resumed["replayed"]["topic:public.news"], 5);
    assert_eq!(resumed["denied"], json!(["topic:secret.news"]));
    // Still subscribed: live events keep coming.
    publish_news(&server, 5).await;
    let live = client.recv_in("topic:public.news").await;
    assert_eq!(live["offset"], 6);
}

/// Publishes `n` to the `public.news` topic.
async fn publish_news(server: &TestServer, n: u64) {
    server
        .state
        .hub
        .bus_publish("public.news", None, json!({"n": n}))
        .await
        .unwrap();
}

/// A client of `user` that subscribed to `public.news` at offset 0, missed
/// three events while away, and has just subscribed again. Returns it and
/// the epoch of its old position.
async fn back_after_three_missed(server: &TestServer, user: i64) -> (Client, String) {
    let mut client = server.client(user).await;
    let ack = client.subscribe("public.news").await;
    let epoch = ack["data"]["epoch"].as_str().unwrap().to_string();
    drop(client);
    for n in 0..3 {
        publish_news(server, n).await;
    }
    let mut client = server.client(user).await;
    let ack = client.subscribe("public.news").await;
    assert_eq!(ack["data"]["offset"], 3);
    (client, epoch)
}

/// Asks to resume `public.news` from its start, then reads to `resumed`.
async fn resume_news_from_start(
    client: &mut Client,
    epoch: &str,
) -> (Vec<(String, u64, u64)>, serde_json::Value) {
    client
        .send(json!({"op":"resume","rooms":{"topic:public.news":{"epoch":epoch,"offset":0}}}))
        .await;
    read_until_resumed(client).await
}

#[tokio::test]
async fn resume_below_live_events_already_sent_is_a_resync_not_a_silent_gap() {
    let (server, _policy) = TestServer::with_policy(|_| {}).await;
    let (mut client, epoch) = back_after_three_missed(&server, 9).await;
    // A live event goes out before the client resumes from its old
    // position, so offsets 1..=3 can no longer come in order.
    publish_news(&server, 3).await;
    let live = client.recv_in("topic:public.news").await;
    assert_eq!(live["offset"], 4);
    let (events, resumed) = resume_news_from_start(&mut client, &epoch).await;
    assert_eq!(events, vec![]);
    assert_eq!(
        resumed["resync"],
        json!([{"room":"topic:public.news","reason":"live_ahead",
                "position":{"epoch":epoch,"offset":4}}])
    );
    // The stream goes on after the position given.
    publish_news(&server, 4).await;
    assert_eq!(client.recv_in("topic:public.news").await["offset"], 5);
}

#[tokio::test]
async fn resume_right_after_subscribe_replays_the_gap() {
    let (server, _policy) = TestServer::with_policy(|_| {}).await;
    let (mut client, epoch) = back_after_three_missed(&server, 10).await;
    let (events, resumed) = resume_news_from_start(&mut client, &epoch).await;
    let offsets: Vec<u64> = events.iter().map(|e| e.1).collect();
    assert_eq!(offsets, vec![1, 2, 3]);
    assert_eq!(resumed["resync"], json!([]));
    publish_news(&server, 3).await;
    assert_eq!(client.recv_in("topic:public.news").await["offset"], 4);
}
