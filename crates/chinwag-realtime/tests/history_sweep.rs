//! The in-memory engine drops aged history from quiet rooms too, and
//! forgets rooms left with no history and no connection, so publishing to
//! ever new topics cannot grow a node's memory for good. A forgotten room
//! made again starts a new epoch: resuming from the old one asks for a
//! resync instead of replaying another stream's offsets.

use std::time::Duration;

use chinwag_protocol::Id;
use chinwag_protocol::model::UserRole;
use chinwag_protocol::stream::ResyncReason;
use chinwag_realtime::engine::memory::SWEEP_EVERY;
use chinwag_realtime::engine::{AnyEngine, HistoryConfig, Replay};
use chinwag_realtime::{Hub, NodeId, OutboxConfig, RoomId};
use serde_json::json;

const MAX_AGE: Duration = Duration::from_secs(60);

fn streams(hub: &Hub) -> usize {
    match hub.engine() {
        AnyEngine::Memory(engine) => engine.stream_count(),
        #[allow(unreachable_patterns)]
        _ => unreachable!("a memory hub"),
    }
}

#[tokio::test(start_paused = true)]
async fn quiet_rooms_lose_aged_history_and_empty_ones_are_forgotten() {
    let hub = Hub::memory(
        NodeId::generate(Some("sweep")),
        OutboxConfig::default(),
        HistoryConfig {
            max_len: 1000,
            max_age: MAX_AGE,
        },
    );
    // A member keeps its room (and the room's epoch) through the sweep.
    let (member, _outbox) = hub.register(Id(1), UserRole::User);
    let kept = RoomId::topic("public.kept").unwrap();
    hub.join(&member, &kept).await.unwrap();
    let kept_pos = hub
        .bus_publish("public.kept", None, json!({}))
        .await
        .unwrap()
        .unwrap();
    let mut old = None;
    for n in 0..500 {
        let pos = hub
            .bus_publish(&format!("public.once-{n}"), None, json!({"n": n}))
            .await
            .unwrap();
        old.get_or_insert(pos.unwrap());
    }
    assert_eq!(streams(&hub), 501);

    tokio::time::sleep(MAX_AGE + SWEEP_EVERY).await;
    // Any publish sweeps once it is due.
    hub.bus_publish("public.trigger", None, json!({}))
        .await
        .unwrap();
    assert_eq!(streams(&hub), 2, "the kept room and the trigger's");

    let again = hub.head(&kept).await.unwrap();
    assert_eq!(again, kept_pos, "a room with a member keeps its stream");
    let once = RoomId::topic("public.once-0").unwrap();
    match hub.replay(&once, &old.unwrap()).await.unwrap() {
        Replay::Resync { reason, head } => {
            assert_eq!(reason, ResyncReason::EpochChanged);
            assert_eq!(head.offset, 0);
        }
        Replay::Events(events) => panic!("replayed {} events of a new stream", events.len()),
    }
}
