use chinwag_testkit::Rng;

use super::*;

const MASK: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

/// A client frame: masked, with the given FIN bit.
fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

fn decode_all(decoder: &mut Decoder, bytes: &[u8]) -> Result<Vec<Incoming>, FrameError> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(item) = decoder.decode(&mut buf)? {
        out.push(item);
    }
    Ok(out)
}

#[test]
fn headers_use_the_shortest_length_form() {
    assert_eq!(Header::new(OpCode::Text, 5).as_slice(), [0x81, 5]);
    assert_eq!(Header::new(OpCode::Binary, 125).as_slice(), [0x82, 125]);
    assert_eq!(
        Header::new(OpCode::Text, 126).as_slice(),
        [0x81, 126, 0, 126]
    );
    assert_eq!(
        Header::new(OpCode::Text, 65_535).as_slice(),
        [0x81, 126, 0xff, 0xff]
    );
    assert_eq!(
        Header::new(OpCode::Close, 65_536).as_slice(),
        [0x88, 127, 0, 0, 0, 0, 0, 1, 0, 0]
    );
}

#[test]
fn decodes_masked_messages_of_every_length_form() {
    for len in [0, 1, 125, 126, 65_535, 65_536, 70_000] {
        let payload = vec![b'a'; len];
        let mut decoder = Decoder::new(100_000);
        let got = decode_all(&mut decoder, &client_frame(true, 1, &payload)).unwrap();
        assert_eq!(got, [Incoming::Text(Bytes::from(payload))], "len {len}");
    }
}

#[test]
fn waits_for_the_rest_of_a_split_frame() {
    let bytes = client_frame(true, 2, b"hello world");
    for cut in 1..bytes.len() {
        let mut decoder = Decoder::new(1024);
        let mut buf = BytesMut::from(&bytes[..cut]);
        assert_eq!(decoder.decode(&mut buf), Ok(None), "cut at {cut}");
        buf.extend_from_slice(&bytes[cut..]);
        assert_eq!(
            decoder.decode(&mut buf),
            Ok(Some(Incoming::Binary(Bytes::from_static(b"hello world"))))
        );
        assert!(buf.is_empty());
    }
}

#[test]
fn reassembles_fragments_with_control_frames_between() {
    let mut bytes = client_frame(false, 1, b"hel");
    bytes.extend(client_frame(true, 9, b"p"));
    bytes.extend(client_frame(false, 0, b"lo "));
    bytes.extend(client_frame(true, 0, b"there"));
    bytes.extend(client_frame(true, 8, &[0x03, 0xe8, b'o', b'k']));
    let got = decode_all(&mut Decoder::new(1024), &bytes).unwrap();
    assert_eq!(
        got,
        [
            Incoming::Ping(Bytes::from_static(b"p")),
            Incoming::Text(Bytes::from_static(b"hello there")),
            Incoming::Close(Some(1000)),
        ]
    );
}

#[test]
fn a_message_may_come_in_at_most_max_fragments_frames() {
    let message = |fragments: usize| {
        let mut bytes = client_frame(false, 1, b"x");
        for _ in 2..fragments {
            bytes.extend(client_frame(false, 0, b""));
        }
        bytes.extend(client_frame(true, 0, b"y"));
        bytes
    };
    let got = decode_all(&mut Decoder::new(1024), &message(MAX_FRAGMENTS)).unwrap();
    assert_eq!(got, [Incoming::Text(Bytes::from_static(b"xy"))]);
    assert_eq!(
        decode_all(&mut Decoder::new(1024), &message(MAX_FRAGMENTS + 1)),
        Err(FrameError::Protocol("too many fragments in one message"))
    );
}

#[test]
fn refuses_oversized_messages_from_the_header() {
    let mut decoder = Decoder::new(100);
    // Only the header of a 1 MB frame: refused before its payload arrives.
    let head = &client_frame(true, 1, &vec![0; 1_000_000])[..14];
    assert_eq!(
        decode_all(&mut decoder, head),
        Err(FrameError::TooLarge(1_000_000))
    );
    // Fragments count together.
    let mut bytes = client_frame(false, 2, &[0; 60]);
    bytes.extend(client_frame(true, 0, &[0; 60]));
    assert_eq!(
        decode_all(&mut Decoder::new(100), &bytes),
        Err(FrameError::TooLarge(120))
    );
}

#[test]
fn refuses_invalid_utf8_in_text_and_close_reasons() {
    let mut decoder = Decoder::new(100);
    let text = client_frame(true, 1, &[0xff, 0xfe]);
    assert_eq!(
        decode_all(&mut decoder, &text),
        Err(FrameError::InvalidUtf8)
    );
    let close = client_frame(true, 8, &[0x03, 0xe8, 0xff]);
    assert_eq!(
        decode_all(&mut decoder, &close),
        Err(FrameError::InvalidUtf8)
    );
    // Binary is not checked.
    let binary = client_frame(true, 2, &[0xff, 0xfe]);
    assert!(decode_all(&mut decoder, &binary).is_ok());
}

#[test]
fn refuses_protocol_violations() {
    let unmasked = [0x81, 0x01, b'a'];
    let reserved = {
        let mut f = client_frame(true, 1, b"a");
        f[0] |= 0x40;
        f
    };
    let cases: [(&str, Vec<u8>); 7] = [
        ("unmasked", unmasked.to_vec()),
        ("reserved bits", reserved),
        ("unknown opcode", client_frame(true, 3, b"")),
        ("fragmented ping", client_frame(false, 9, b"")),
        ("long ping", client_frame(true, 9, &[0; 126])),
        ("stray continuation", client_frame(true, 0, b"x")),
        ("one-byte close", client_frame(true, 8, &[3])),
    ];
    for (name, bytes) in cases {
        let got = decode_all(&mut Decoder::new(1024), &bytes);
        assert!(
            matches!(got, Err(FrameError::Protocol(_))),
            "{name}: {got:?}"
        );
    }
    let mut interleaved = client_frame(false, 1, b"a");
    interleaved.extend(client_frame(true, 2, b"b"));
    assert!(matches!(
        decode_all(&mut Decoder::new(1024), &interleaved),
        Err(FrameError::Protocol(_))
    ));
}

/// A random stream of valid client frames: messages (some fragmented,
/// with pings between fragments), pings, pongs, and perhaps a close.
fn valid_stream(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..1 + rng.below(12) {
        let len = [0, 1, 5, 125, 126, 300][rng.below(6)];
        match rng.below(5) {
            0 => {
                let ping = rng.bytes(len.min(125));
                out.extend(client_frame(true, 9, &ping));
            }
            1 => out.extend(client_frame(true, 10, b"")),
            2 => out.extend(client_frame(true, 2, &rng.bytes(len))),
            3 => {
                let text: Vec<u8> = (0..len).map(|_| b'a' + rng.below(26) as u8).collect();
                out.extend(client_frame(true, 1, &text));
            }
            _ => {
                out.extend(client_frame(false, 2, &rng.bytes(len)));
                out.extend(client_frame(true, 9, b"between"));
                out.extend(client_frame(true, 0, &rng.bytes(len)));
            }
        }
    }
    if rng.below(4) == 0 {
        out.extend(client_frame(true, 8, &[0x03, 0xe8, b'o', b'k']));
    }
    out
}

/// Decodes `bytes` fed in random slices, as a socket reads them, until the
/// end or the first error.
fn decode_in_pieces(rng: &mut Rng, max: usize, bytes: &[u8]) -> Result<Vec<Incoming>, FrameError> {
    let mut decoder = Decoder::new(max);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = bytes;
    loop {
        while let Some(item) = decoder.decode(&mut buf)? {
            if let Incoming::Text(t) | Incoming::Binary(t) = &item {
                assert!(t.len() <= max, "a message over the limit got through");
            }
            if let Incoming::Text(t) = &item {
                assert!(std::str::from_utf8(t).is_ok(), "text that is not UTF-8");
            }
            out.push(item);
        }
        if rest.is_empty() {
            return Ok(out);
        }
        let take = (1 + rng.below(64)).min(rest.len());
        buf.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
    }
}

#[test]
fn how_a_stream_is_cut_into_reads_never_changes_what_it_decodes_to() {
    for seed in 1..2000u64 {
        let mut rng = Rng::new(seed);
        let stream = valid_stream(&mut rng);
        let whole = decode_all(&mut Decoder::new(1000), &stream);
        assert!(whole.is_ok(), "seed {seed}: {whole:?}");
        assert_eq!(
            decode_in_pieces(&mut rng, 1000, &stream),
            whole,
            "seed {seed}"
        );
    }
}

#[test]
fn damaged_streams_fail_cleanly() {
    for seed in 1..3000u64 {
        let mut rng = Rng::new(seed);
        let mut stream = valid_stream(&mut rng);
        match rng.below(3) {
            // Bytes flipped anywhere, headers included.
            0 => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(stream.len());
                    stream[at] ^= 1 << rng.below(8);
                }
            }
            // Random bytes spliced in.
            1 => {
                let at = rng.below(stream.len());
                let len = 1 + rng.below(16);
                let junk = rng.bytes(len);
                stream.splice(at..at, junk);
            }
            // Nothing but noise.
            _ => {
                let len = 1 + rng.below(200);
                stream = rng.bytes(len);
            }
        }
        // No panic, no oversized or non-UTF-8 message: either it decodes
        // or it stops at an error.
        let _ = decode_in_pieces(&mut rng, 1000, &stream);
    }
}
