//! Damaged client commands are refused cleanly in both encodings: every
//! byte sequence decodes to a command or to an error, never a panic, and a
//! command that decodes encodes back to the same command.

use chinwag_protocol::Encoding;
use chinwag_protocol::client::ClientFrame;
use chinwag_testkit::Rng;

/// One command of each kind, as docs/protocol.md shows them.
const COMMANDS: &[&str] = &[
    r#"{"op":"identify","token":"eyJhbGciOiJIUzI1NiJ9.e30.x","status":"online","resume":{"user:1":{"epoch":"a37052a6c1944acc","offset":3}}}"#,
    r#"{"op":"resume","rooms":{"topic:public.news":{"epoch":"a37052a6c1944acc","offset":1}}}"#,
    r#"{"op":"ping","nonce":"hb-1"}"#,
    r#"{"op":"subscribe","topic":"public.lobby","nonce":"s1"}"#,
    r#"{"op":"unsubscribe","topic":"public.news","nonce":"u1"}"#,
    r#"{"op":"publish","topic":"public.lobby","data":{"text":"hi","n":[1,2.5,null,true]},"nonce":"p1"}"#,
    r#"{"op":"typing","channel_id":"5"}"#,
    r#"{"op":"reauth","token":"eyJhbGciOiJIUzI1NiJ9.e30.x"}"#,
    r#"{"op":"set_status","status":"dnd"}"#,
    r#"{"op":"send_message","channel_id":"5","content":"hello ünïcødé","nonce":"c-42"}"#,
];

/// A command decoded from damaged bytes must survive a round trip.
fn check(encoding: Encoding, bytes: &[u8], seed: u64) {
    if let Ok(command) = encoding.decode_command(bytes) {
        let again = encoding.encode(&command).unwrap();
        assert_eq!(
            encoding.decode_command(&again).unwrap(),
            command,
            "seed {seed}: {encoding:?} round trip"
        );
    }
}

#[test]
fn every_documented_command_decodes_in_both_encodings() {
    for json in COMMANDS {
        let command: ClientFrame = Encoding::Json.decode_command(json.as_bytes()).unwrap();
        let packed = Encoding::MsgPack.encode(&command).unwrap();
        assert_eq!(Encoding::MsgPack.decode_command(&packed).unwrap(), command);
    }
}

#[test]
fn damaged_commands_are_refused_cleanly() {
    for seed in 1..20_000u64 {
        let mut rng = Rng::new(seed);
        let json = COMMANDS[rng.below(COMMANDS.len())];
        let command = Encoding::Json.decode_command(json.as_bytes()).unwrap();
        for encoding in [Encoding::Json, Encoding::MsgPack] {
            let mut bytes = encoding.encode(&command).unwrap();
            match rng.below(3) {
                0 => {
                    for _ in 0..1 + rng.below(3) {
                        let at = rng.below(bytes.len());
                        bytes[at] = rng.next_u64() as u8;
                    }
                }
                1 => bytes.truncate(rng.below(bytes.len())),
                _ => {
                    let at = rng.below(bytes.len());
                    let from = rng.below(bytes.len());
                    let piece = bytes[from..].to_vec();
                    bytes.splice(at..at, piece);
                }
            }
            check(encoding, &bytes, seed);
        }
    }
}
