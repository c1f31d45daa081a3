//! Three hubs sharing one broker behave like one hub. Every scenario runs
//! against each broker engine (Redis, NATS) whose service this run has (see
//! `chinwag_testkit::Backend`).

#![cfg(any(feature = "redis", feature = "nats"))]

#[path = "support/cluster.rs"]
mod support;

use std::collections::HashSet;
use std::time::Duration;

use chinwag_protocol::model::{PresenceStatus, UserRole};
use chinwag_protocol::stream::ResyncReason;
use chinwag_protocol::{Encoding, Id, StreamPos};
use chinwag_realtime::conn::Control;
use chinwag_realtime::engine::{Engine, PresenceOp, Publication};
use chinwag_realtime::{ConnId, HistoryConfig, HubError, Outgoing, Replay, RoomId};
use support::{Broker, Kind, events, eventually, next, number, numbered, quiet, room_messages};

broker_suite!(
    fanout_is_exactly_once_in_offset_order,
    a_run_of_publishes_keeps_its_order,
    subscriptions_follow_interest,
    to_user_and_to_conn_cross_nodes,
    membership_changes_reach_every_node,
    replay_and_resync,
    replay_starts_where_the_client_left_off,
    presence_is_cluster_wide,
    dead_node_connections_are_reaped,
);

fn history() -> HistoryConfig {
    HistoryConfig::default()
}

async fn fanout_is_exactly_once_in_offset_order(broker: Broker) {
    let hubs = broker.nodes(3, history()).await;
    let room = RoomId::channel(Id(10));
    let idle_room = RoomId::channel(Id(11));
    let mut members = Vec::new();
    for hub in [&hubs[0], &hubs[0], &hubs[1]] {
        let (conn, outbox) = hub.register(Id(1), UserRole::User);
        hub.join(&conn, &room).await.unwrap();
        members.push((conn, outbox));
    }
    let (bystander, mut bystander_out) = hubs[2].register(Id(2), UserRole::User);
    hubs[2].join(&bystander, &idle_room).await.unwrap();

    // Every node publishes concurrently.
    const PER_NODE: i64 = 20;
    let mut tasks = Vec::new();
    for (i, hub) in hubs.iter().enumerate() {
        let (hub, room) = (hub.clone(), room.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..PER_NODE {
                let pos = hub.broadcast(&room, numbered(i as i64 * 1000 + n)).await;
                assert!(pos.unwrap().is_some());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = 3 * PER_NODE as usize;
    let mut reference: Option<Vec<(u64, i64)>> = None;
    for (_, outbox) in &mut members {
        let got = events(outbox, total).await;
        let seq: Vec<(u64, i64)> = got
            .iter()
            .map(|f| (f.offset().unwrap(), number(f)))
            .collect();
        let offsets: Vec<u64> = seq.iter().map(|(o, _)| *o).collect();
        assert_eq!(
            offsets,
            (1..=total as u64).collect::<Vec<_>>(),
            "offset order"
        );
        let unique: HashSet<i64> = seq.iter().map(|(_, n)| *n).collect();
        assert_eq!(unique.len(), total, "each event exactly once");
        // Each publisher's own events keep their order.
        for i in 0..3 {
            let mine: Vec<i64> = seq
                .iter()
                .map(|(_, n)| *n)
                .filter(|n| n / 1000 == i)
                .collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]));
        }
        // Every member sees the same order; the JSON carries the position.
        match &reference {
            None => reference = Some(seq),
            Some(r) => assert_eq!(r, &seq),
        }
        let json: serde_json::Value = serde_json::from_slice(got[0].bytes(Encoding::Json)).unwrap();
        assert_eq!(json["offset"], 1);
        assert_eq!(json["room"], room.as_str());
        quiet(outbox).await;
    }
    quiet(&mut bystander_out).await;
    assert_eq!(
        room_messages(&hubs[2]),
        0,
        "a node without members gets no traffic"
    );

    // Ephemeral events carry no offset and reach every member.
    hubs[2].broadcast(&room, support::typing(5)).await.unwrap();
    for (_, outbox) in &mut members {
        let frame = events(outbox, 1).await.remove(0);
        assert_eq!(frame.offset(), None);
    }
    let head = hubs[2].head(&room).await.unwrap();
    assert_eq!(head.offset, total as u64);
}

async fn a_run_of_publishes_keeps_its_order(broker: Broker) {
    let hubs = broker.nodes(2, history()).await;
    let room = RoomId::channel(Id(12));
    let (member, mut outbox) = hubs[1].register(Id(1), UserRole::User);
    hubs[1].join(&member, &room).await.unwrap();

    // Node 1 publishes one by one while node 0 sends a run of 30, every
    // fifth one ephemeral.
    let (other, other_room) = (hubs[1].clone(), room.clone());
    let singles = tokio::spawn(async move {
        for n in 0..10 {
            other
                .broadcast(&other_room, numbered(1000 + n))
                .await
                .unwrap();
        }
    });
    let run = (0..30)
        .map(|n| Publication {
            room: room.clone(),
            event: if n % 5 == 4 {
                support::typing(n)
            } else {
                numbered(n)
            },
            only_role: None,
        })
        .collect();
    let results = hubs[0].engine().publish_many(run).await;
    singles.await.unwrap();

    assert_eq!(results.len(), 30);
    let mut offsets = Vec::new();
    for (n, result) in results.into_iter().enumerate() {
        let pos = result.unwrap_or_else(|e| panic!("publish {n} failed: {e}"));
        assert_eq!(
            pos.is_some(),
            n % 5 != 4,
            "only durable events get a position"
        );
        offsets.extend(pos.map(|p| p.offset));
    }
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "run offsets in order: {offsets:?}"
    );

    let got = events(&mut outbox, 40).await;
    let run_order: Vec<i64> = got
        .iter()
        .filter(|f| f.offset().is_some())
        .map(|f| number(f))
        .filter(|n| *n < 1000)
        .collect();
    let expected: Vec<i64> = (0..30).filter(|n| n % 5 != 4).collect();
    assert_eq!(run_order, expected, "the member sees the run in order");
    let durable: Vec<u64> = got.iter().filter_map(|f| f.offset()).collect();
    assert_eq!(durable, (1..=34).collect::<Vec<u64>>(), "gap-free offsets");
    quiet(&mut outbox).await;

    // History holds the same events (on NATS the run was stored in packs):
    // a replay from anywhere, even inside a pack, gives the rest in order.
    let live: Vec<(u64, i64)> = got
        .iter()
        .filter_map(|f| f.offset().map(|o| (o, number(f))))
        .collect();
    // Ephemeral events carry no position, and one may arrive first.
    let epoch = got
        .iter()
        .find_map(|f| f.pos())
        .expect("a durable event")
        .epoch
        .clone();
    for since in [0, 5, 17, 33] {
        let replay = hubs[0]
            .replay(
                &room,
                &StreamPos {
                    epoch: epoch.clone(),
                    offset: since,
                },
            )
            .await
            .unwrap();
        let Replay::Events(events) = replay else {
            panic!("expected events after {since}, got {replay:?}")
        };
        let replayed: Vec<(u64, i64)> = events
            .iter()
            .map(|f| (f.offset().unwrap(), number(f)))
            .collect();
        assert_eq!(replayed, live[since as usize..], "replay after {since}");
    }
}

async fn subscriptions_follow_interest(broker: Broker) {
    let hubs = broker.nodes(2, history()).await;
    let room = RoomId::topic("news").unwrap();
    let (watcher, mut watcher_out) = hubs[0].register(Id(1), UserRole::User);
    hubs[0].join(&watcher, &room).await.unwrap();
    let (conn, mut outbox) = hubs[1].register(Id(2), UserRole::User);
    hubs[1].join(&conn, &room).await.unwrap();
    #[cfg(feature = "redis")]
    if broker.kind == Kind::Redis {
        assert_eq!(numsub(&broker, &hubs[0], &room).await, 2);
    }

    hubs[0].broadcast(&room, numbered(1)).await.unwrap();
    events(&mut watcher_out, 1).await;
    events(&mut outbox, 1).await;
    let before = room_messages(&hubs[1]);
    assert!(before >= 1);

    hubs[1].leave(&conn, &room, "bye").await;
    assert!(
        matches!(next(&mut outbox).await, Outgoing::Control(c) if matches!(*c, Control::Left(..)))
    );
    #[cfg(feature = "redis")]
    if broker.kind == Kind::Redis {
        assert_eq!(numsub(&broker, &hubs[0], &room).await, 1);
    }
    hubs[0].broadcast(&room, numbered(2)).await.unwrap();
    events(&mut watcher_out, 1).await;
    quiet(&mut outbox).await;
    assert_eq!(
        room_messages(&hubs[1]),
        before,
        "unsubscribed once interest ended"
    );

    // A server-side bus subscriber is interest too.
    let mut bus = hubs[1].bus_subscribe("news").await.unwrap();
    hubs[0]
        .bus_publish("news", None, serde_json::json!({"n": 3}))
        .await
        .unwrap();
    let frame = tokio::time::timeout(support::WAIT, bus.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frame.offset(), Some(3));
}

#[cfg(feature = "redis")]
async fn numsub(broker: &Broker, hub: &chinwag_realtime::Hub, room: &RoomId) -> i64 {
    let chinwag_realtime::AnyEngine::Redis(engine) = hub.engine() else {
        unreachable!()
    };
    let url = chinwag_testkit::Backend::Redis.url().unwrap();
    let _ = broker;
    let client = ::redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let (_, n): (String, i64) = ::redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(engine.room_channel(room))
        .query_async(&mut conn)
        .await
        .unwrap();
    n
}

async fn to_user_and_to_conn_cross_nodes(broker: Broker) {
    let hubs = broker.nodes(3, history()).await;
    let user = Id(42);
    let mut outs = Vec::new();
    let mut conns = Vec::new();
    for hub in &hubs {
        let (conn, outbox) = hub.register(user, UserRole::User);
        hub.join(&conn, &RoomId::user(user)).await.unwrap();
        conns.push(conn);
        outs.push(outbox);
    }
    hubs[1].to_user(user, numbered(7)).await.unwrap();
    for outbox in &mut outs {
        let frame = events(outbox, 1).await.remove(0);
        assert_eq!(number(&frame), 7);
        assert_eq!(frame.room(), &RoomId::user(user));
    }

    // to_conn from node 0 to a connection on node 2.
    let target = conns[2].id();
    hubs[0].to_conn(target, numbered(8)).await.unwrap();
    let frame = events(&mut outs[2], 1).await.remove(0);
    assert_eq!(number(&frame), 8);
    assert_eq!(frame.room(), &RoomId::conn(target));
    assert_eq!(frame.offset(), None);
    quiet(&mut outs[0]).await;
    quiet(&mut outs[1]).await;

    // Unknown connections: on this node, and on a node that does not exist.
    let missing_here = ConnId::new(hubs[0].node().tag(), 999_999);
    assert!(matches!(
        hubs[0].to_conn(missing_here, numbered(9)).await,
        Err(HubError::UnknownConn)
    ));
    let no_node = (0..)
        .map(|t| t & 0xff_ffff)
        .find(|t| hubs.iter().all(|h| h.node().tag() != *t))
        .unwrap();
    assert!(matches!(
        hubs[0].to_conn(ConnId::new(no_node, 1), numbered(9)).await,
        Err(HubError::UnknownConn)
    ));
}

async fn membership_changes_reach_every_node(broker: Broker) {
    let hubs = broker.nodes(3, history()).await;
    let user = Id(7);
    let room = RoomId::community(Id(3));
    let (_c1, mut out1) = hubs[1].register(user, UserRole::User);
    let (_c2, mut out2) = hubs[2].register(user, UserRole::User);

    hubs[0].join_user(user, &room).await.unwrap();
    for outbox in [&mut out1, &mut out2] {
        match next(outbox).await {
            Outgoing::Control(c) => match *c {
                Control::Joined(r, pos) => {
                    assert_eq!(r, room);
                    assert_eq!(pos.offset, 0);
                }
                other => panic!("expected joined, got {other:?}"),
            },
            other => panic!("expected joined, got {other:?}"),
        }
    }
    hubs[0].broadcast(&room, numbered(1)).await.unwrap();
    for outbox in [&mut out1, &mut out2] {
        assert_eq!(number(&events(outbox, 1).await[0]), 1);
    }

    hubs[0].leave_user(user, &room, "kicked").await.unwrap();
    for outbox in [&mut out1, &mut out2] {
        match next(outbox).await {
            Outgoing::Control(c) => {
                assert!(
                    matches!(*c, Control::Left(ref r, ref why) if r == &room && why == "kicked")
                )
            }
            other => panic!("expected left, got {other:?}"),
        }
    }
    hubs[0].broadcast(&room, numbered(2)).await.unwrap();
    quiet(&mut out1).await;
    quiet(&mut out2).await;
    assert_eq!(hubs[1].room_size(&room) + hubs[2].room_size(&room), 0);

    hubs[0].require_reauth(user, "roles changed").await.unwrap();
    for outbox in [&mut out1, &mut out2] {
        assert!(
            matches!(next(outbox).await, Outgoing::Control(c) if matches!(*c, Control::Frame(_)))
        );
    }
}

/// Two rooms written in turn, singly and in runs (packs on NATS): a
/// replay from every offset of one gives exactly the rest of that room, in
/// order, wherever its messages sit among the other room's.
async fn replay_starts_where_the_client_left_off(broker: Broker) {
    let hubs = broker.nodes(1, history()).await;
    let (room, other) = (RoomId::channel(Id(31)), RoomId::channel(Id(32)));
    let run = |room: &RoomId, from: i64, len: i64| {
        (from..from + len)
            .map(|n| Publication {
                room: room.clone(),
                event: numbered(n),
                only_role: None,
            })
            .collect::<Vec<_>>()
    };
    let mut written = 0;
    for round in 0..12 {
        // Singles, then a run of up to 5, with the other room in between.
        let len = round % 5 + 1;
        let mut batch = run(&other, 0, 3);
        batch.extend(run(&room, written + 1, len));
        for result in hubs[0].engine().publish_many(batch).await {
            result.unwrap();
        }
        written += len;
        hubs[0].broadcast(&other, numbered(0)).await.unwrap();
    }
    let head = hubs[0].head(&room).await.unwrap();
    assert_eq!(head.offset, written as u64);
    for since in 0..=head.offset {
        let from = StreamPos {
            epoch: head.epoch.clone(),
            offset: since,
        };
        let Replay::Events(events) = hubs[0].replay(&room, &from).await.unwrap() else {
            panic!("expected events after {since}");
        };
        let replayed: Vec<(u64, i64)> = events
            .iter()
            .map(|f| (f.offset().unwrap(), number(f)))
            .collect();
        let expected: Vec<(u64, i64)> = (since + 1..=head.offset).map(|o| (o, o as i64)).collect();
        assert_eq!(replayed, expected, "replay after {since}");
    }
}

async fn replay_and_resync(broker: Broker) {
    let history = HistoryConfig {
        max_len: 5,
        max_age: Duration::from_secs(600),
    };
    let hubs = broker.nodes(2, history).await;
    let room = RoomId::channel(Id(5));
    let start = hubs[0].head(&room).await.unwrap();
    assert_eq!(start.offset, 0);
    let empty = hubs[1].replay(&room, &start).await.unwrap();
    assert!(matches!(empty, Replay::Events(ref e) if e.is_empty()));

    for n in 1..=8 {
        let pos = hubs[n as usize % 2]
            .broadcast(&room, numbered(n))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            pos,
            StreamPos {
                epoch: start.epoch.clone(),
                offset: n as u64
            }
        );
    }
    let at = |offset| StreamPos {
        epoch: start.epoch.clone(),
        offset,
    };
    assert_eq!(hubs[1].head(&room).await.unwrap(), at(8));

    let offsets = |r: Replay| match r {
        Replay::Events(e) => e
            .iter()
            .map(|f| {
                assert_eq!(f.offset().map(|o| o as i64), Some(number(f)));
                f.offset().unwrap()
            })
            .collect::<Vec<_>>(),
        other => panic!("expected events, got {other:?}"),
    };
    assert_eq!(
        offsets(hubs[1].replay(&room, &at(5)).await.unwrap()),
        [6, 7, 8]
    );
    assert_eq!(
        offsets(hubs[0].replay(&room, &at(3)).await.unwrap()),
        [4, 5, 6, 7, 8]
    );
    assert!(offsets(hubs[0].replay(&room, &at(8)).await.unwrap()).is_empty());

    let resync = |r: Replay| match r {
        Replay::Resync { reason, head } => (reason, head),
        other => panic!("expected resync, got {other:?}"),
    };
    assert_eq!(
        resync(hubs[1].replay(&room, &at(2)).await.unwrap()),
        (ResyncReason::HistoryTruncated, at(8))
    );
    assert_eq!(
        resync(hubs[1].replay(&room, &at(9)).await.unwrap()),
        (ResyncReason::EpochChanged, at(8))
    );
    let other_epoch = StreamPos {
        epoch: "feedfacefeedface".into(),
        offset: 4,
    };
    assert_eq!(
        resync(hubs[0].replay(&room, &other_epoch).await.unwrap()),
        (ResyncReason::EpochChanged, at(8))
    );

    // Replayed frames carry the same bytes as live ones would.
    let Replay::Events(events) = hubs[0].replay(&room, &at(7)).await.unwrap() else {
        unreachable!()
    };
    let json: serde_json::Value = serde_json::from_slice(events[0].bytes(Encoding::Json)).unwrap();
    assert_eq!(json["offset"], 8);
    assert_eq!(json["epoch"], start.epoch.as_str());
    assert_eq!(json["type"], "CHANNEL_CREATED");

    // Ephemeral events never enter history.
    hubs[0].broadcast(&room, support::typing(1)).await.unwrap();
    assert_eq!(hubs[0].head(&room).await.unwrap(), at(8));
}

async fn presence_is_cluster_wide(broker: Broker) {
    let hubs = broker.nodes(3, history()).await;
    let user = Id(99);
    let (c0, _o0) = hubs[0].register(user, UserRole::User);
    let (c1, _o1) = hubs[1].register(user, UserRole::User);
    let mut versions = Vec::new();
    let mut op = async |i: usize, op| {
        let snap = hubs[i].engine().presence(user, op).await.unwrap();
        versions.push(snap.version);
        snap
    };
    assert_eq!(op(0, PresenceOp::Add(c0.id())).await.connections, 1);
    assert_eq!(op(1, PresenceOp::Add(c1.id())).await.connections, 2);
    assert_eq!(op(2, PresenceOp::Read).await.connections, 2);
    let s = op(2, PresenceOp::SetStatus(PresenceStatus::Dnd)).await;
    assert_eq!((s.connections, s.status), (2, PresenceStatus::Dnd));
    let read = op(0, PresenceOp::Read).await;
    assert_eq!(read.status, PresenceStatus::Dnd);
    // A peek from any node sees the same state and bumps nothing.
    let last = read.version;
    for hub in &hubs {
        let peek = hub.engine().presence(user, PresenceOp::Peek).await.unwrap();
        assert_eq!(
            (peek.connections, peek.status, peek.version),
            (2, PresenceStatus::Dnd, last)
        );
    }
    let nobody = hubs[1]
        .engine()
        .presence(Id(98), PresenceOp::Peek)
        .await
        .unwrap();
    assert_eq!((nobody.connections, nobody.version), (0, 0));
    assert_eq!(op(1, PresenceOp::Remove(c1.id())).await.connections, 1);
    assert_eq!(op(1, PresenceOp::Remove(c1.id())).await.connections, 1);
    assert_eq!(op(0, PresenceOp::Remove(c0.id())).await.connections, 0);
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");

    // Concurrent operations from every node: versions stay unique.
    let mut tasks = Vec::new();
    for (i, hub) in hubs.iter().enumerate() {
        let hub = hub.clone();
        tasks.push(tokio::spawn(async move {
            let mut v = Vec::new();
            for n in 0..10 {
                let conn = ConnId::new(hub.node().tag(), 1000 + n);
                v.push(
                    hub.engine()
                        .presence(user, PresenceOp::Add(conn))
                        .await
                        .unwrap()
                        .version,
                );
                let _ = i;
            }
            v
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        for v in t.await.unwrap() {
            assert!(all.insert(v), "duplicate version {v}");
        }
    }
    assert_eq!(
        hubs[1]
            .engine()
            .presence(user, PresenceOp::Read)
            .await
            .unwrap()
            .connections,
        30
    );
}

async fn dead_node_connections_are_reaped(broker: Broker) {
    let mut hubs = broker.nodes(3, history()).await;
    let user = Id(5);
    let mut r0 = support::reaped(&hubs[0]);
    let mut r1 = support::reaped(&hubs[1]);
    let (c0, _o0) = hubs[0].register(user, UserRole::User);
    hubs[0]
        .engine()
        .presence(user, PresenceOp::Add(c0.id()))
        .await
        .unwrap();
    let mut doomed = HashSet::new();
    for _ in 0..2 {
        let (c, _o) = hubs[2].register(user, UserRole::User);
        hubs[2]
            .engine()
            .presence(user, PresenceOp::Add(c.id()))
            .await
            .unwrap();
        doomed.insert(c.id());
    }
    let (other, _) = hubs[2].register(Id(6), UserRole::Bot);
    hubs[2]
        .engine()
        .presence(Id(6), PresenceOp::Add(other.id()))
        .await
        .unwrap();
    doomed.insert(other.id());

    // Node 2 dies: its engine stops without cleaning up.
    let dead = hubs.pop().unwrap();
    drop(dead);
    let started = tokio::time::Instant::now();
    let reader = hubs[1].clone();
    eventually(Duration::from_secs(4), "dead node reaped", || {
        let reader = reader.clone();
        async move {
            let a = reader
                .engine()
                .presence(user, PresenceOp::Read)
                .await
                .unwrap();
            let b = reader
                .engine()
                .presence(Id(6), PresenceOp::Read)
                .await
                .unwrap();
            a.connections == 1 && b.connections == 0
        }
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(3));

    // Each reaped connection is reported exactly once, by one node.
    let mut seen = HashSet::new();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for rx in [&mut r0, &mut r1] {
        while let Ok(notice) = rx.try_recv() {
            assert!(seen.insert(notice.conn), "reported twice: {notice:?}");
            if notice.user == user {
                assert!(notice.snapshot.connections >= 1);
            }
        }
    }
    assert_eq!(seen, doomed);
}
