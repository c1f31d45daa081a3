//! Snapshot tests of the JSON wire shape: a change here is a protocol change
//! and must be reflected in `docs/protocol.md`.

use chinwag_protocol::event::message::{DeleteMessage, NewMessage};
use chinwag_protocol::event::typing::UserTyping;
use chinwag_protocol::model::{Message, User};
use chinwag_protocol::server::{ErrorFrame, EventFrame, EventFrameRef, Hello, Lagged};
use chinwag_protocol::stream::StreamPos;
use chinwag_protocol::{
    ClientFrame, CodecError, Encoding, ErrorCode, Event, Id, RoomPosition, ServerFrame,
};
use serde_json::{Value, json};

fn to_json(frame: &ServerFrame) -> Value {
    serde_json::from_slice(&Encoding::Json.encode(frame).unwrap()).unwrap()
}

fn alice() -> User {
    User {
        id: Id(1),
        username: "alice".into(),
        display_name: "Alice".into(),
        avatar_url: None,
        bio: None,
        bot: false,
        created_at: 1_700_000_000_000,
        version: 1,
    }
}

#[test]
fn hello_frame() {
    let frame = ServerFrame::Hello(Hello {
        heartbeat_interval_ms: 20_000,
        identify_timeout_ms: 10_000,
        max_frame_bytes: 65_536,
        node_id: "n1".into(),
    });
    assert_eq!(
        to_json(&frame),
        json!({"op":"hello","heartbeat_interval_ms":20000,"identify_timeout_ms":10000,
               "max_frame_bytes":65536,"node_id":"n1"})
    );
}

#[test]
fn durable_event_frame_carries_room_epoch_offset_type_and_data() {
    let message = Message {
        id: Id(10),
        channel_id: Id(5),
        community_id: Some(Id(3)),
        author: alice(),
        content: "hi <@2>".into(),
        mention_ids: vec![Id(2)],
        thread_parent_id: None,
        reply_count: 0,
        reactions: vec![],
        pinned: false,
        created_at: 1_700_000_000_001,
        edited_at: None,
        nonce: Some("n-1".into()),
        version: 1,
    };
    let frame = ServerFrame::Event(EventFrame {
        room: "channel:5".into(),
        epoch: Some("e1".into()),
        offset: Some(7),
        event: Event::NewMessage(Box::new(NewMessage { message })),
    });
    let expected = json!({
        "op": "event", "room": "channel:5", "epoch": "e1", "offset": 7,
        "type": "NEW_MESSAGE",
        "data": {"message": {
            "id": "10", "channel_id": "5", "community_id": "3",
            "author": {"id":"1","username":"alice","display_name":"Alice","avatar_url":null,
                       "bio":null,"bot":false,"created_at":1700000000000i64,"version":1},
            "content": "hi <@2>", "mention_ids": ["2"], "thread_parent_id": null,
            "reply_count": 0, "reactions": [], "pinned": false,
            "created_at": 1700000000001i64, "edited_at": null, "nonce": "n-1", "version": 1
        }}
    });
    assert_eq!(to_json(&frame), expected);
    let back: ServerFrame = Encoding::Json
        .decode(&Encoding::Json.encode(&frame).unwrap())
        .unwrap();
    assert_eq!(back, frame);
}

#[test]
fn ephemeral_event_frame_has_no_offset() {
    let frame = ServerFrame::Event(EventFrame {
        room: "channel:5".into(),
        epoch: None,
        offset: None,
        event: Event::UserTyping(UserTyping {
            channel_id: Id(5),
            user_id: Id(1),
            expires_at: 8_000,
        }),
    });
    assert_eq!(
        to_json(&frame),
        json!({"op":"event","room":"channel:5","type":"USER_TYPING",
               "data":{"channel_id":"5","user_id":"1","expires_at":8000}})
    );
}

#[test]
fn error_and_lagged_frames() {
    let error = ServerFrame::Error(ErrorFrame {
        code: ErrorCode::Forbidden,
        message: "no".into(),
        nonce: Some("x".into()),
    });
    assert_eq!(
        to_json(&error),
        json!({"op":"error","code":"FORBIDDEN","message":"no","nonce":"x"})
    );
    let lagged = ServerFrame::Lagged(Lagged {
        dropped_ephemeral: 3,
        rooms: vec![RoomPosition {
            room: "user:1".into(),
            pos: StreamPos {
                epoch: "e".into(),
                offset: 9,
            },
        }],
    });
    assert_eq!(
        to_json(&lagged),
        json!({"op":"lagged","dropped_ephemeral":3,
               "rooms":[{"room":"user:1","epoch":"e","offset":9}]})
    );
}

#[test]
fn identify_with_resume_decodes() {
    let frame = Encoding::Json
        .decode_command(
            br#"{"op":"identify","token":"t","resume":{"channel:5":{"epoch":"e1","offset":7}}}"#,
        )
        .unwrap();
    let ClientFrame::Identify(identify) = frame else {
        panic!("not identify: {frame:?}")
    };
    assert_eq!(identify.token, "t");
    assert_eq!(identify.resume.unwrap()["channel:5"].offset, 7);
}

#[test]
fn unknown_op_is_told_apart_from_a_malformed_frame() {
    assert!(matches!(
        Encoding::Json.decode_command(br#"{"op":"dance"}"#),
        Err(CodecError::UnknownOp(op)) if op == "dance"
    ));
    assert!(matches!(
        Encoding::Json.decode_command(br#"{"op":"typing"}"#),
        Err(CodecError::Invalid(_))
    ));
    assert!(matches!(
        Encoding::Json.decode_command(b"not json"),
        Err(CodecError::Invalid(_))
    ));
}

#[test]
fn msgpack_round_trips_events() {
    let frame = ServerFrame::Event(EventFrame {
        room: "channel:5".into(),
        epoch: Some("e".into()),
        offset: Some(1),
        event: Event::DeleteMessage(DeleteMessage {
            id: Id(1),
            channel_id: Id(5),
            community_id: None,
            version: 2,
        }),
    });
    let bytes = Encoding::MsgPack.encode(&frame).unwrap();
    let back: ServerFrame = Encoding::MsgPack.decode(&bytes).unwrap();
    assert_eq!(back, frame);
}

#[test]
fn borrowed_event_frames_encode_to_the_same_bytes() {
    let events = [
        (
            Some("e1"),
            Some(7),
            Event::DeleteMessage(DeleteMessage {
                id: Id(1),
                channel_id: Id(5),
                community_id: Some(Id(3)),
                version: 2,
            }),
        ),
        (
            None,
            None,
            Event::UserTyping(UserTyping {
                channel_id: Id(5),
                user_id: Id(1),
                expires_at: 8_000,
            }),
        ),
    ];
    for (epoch, offset, event) in events {
        let owned = ServerFrame::Event(EventFrame {
            room: "channel:5".into(),
            epoch: epoch.map(str::to_string),
            offset,
            event: event.clone(),
        });
        let borrowed = EventFrameRef {
            room: "channel:5",
            epoch,
            offset,
            event: &event,
        };
        for encoding in [Encoding::Json, Encoding::MsgPack] {
            assert_eq!(
                encoding.encode(&borrowed).unwrap(),
                encoding.encode(&owned).unwrap(),
                "{encoding:?} {event:?}"
            );
        }
    }
}
