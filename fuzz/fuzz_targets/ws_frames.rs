//! The WebSocket frame decoder on any bytes, read in pieces of any size:
//! it returns frames or an error, never panics, never lets a message over
//! the limit or text that is not UTF-8 through, and never buffers more
//! than one message's worth.
#![no_main]

use bytes::BytesMut;
use chinwag_server::gateway::ws::frame::{Decoder, Incoming};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&piece, mut rest)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece.max(1));
    let mut decoder = Decoder::new(MAX);
    let mut buf = BytesMut::new();
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Incoming::Text(text))) => {
                    assert!(text.len() <= MAX);
                    assert!(std::str::from_utf8(&text).is_ok());
                }
                Ok(Some(Incoming::Binary(bytes))) => assert!(bytes.len() <= MAX),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.len() <= MAX + 14 + piece, "buffered {} bytes", buf.len());
        if rest.is_empty() {
            return;
        }
        let take = piece.min(rest.len());
        buf.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
    }
});
