//! RFC 6455 framing: headers for the server's (unmasked) frames, and a
//! decoder for the client's (masked) frames that reassembles fragmented
//! messages within a size limit.

use bytes::{Buf, Bytes, BytesMut};

/// Frame opcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// A later fragment of a message.
    Continuation = 0x0,
    /// A UTF-8 text message.
    Text = 0x1,
    /// A binary message.
    Binary = 0x2,
    /// The closing handshake.
    Close = 0x8,
    /// A ping, to be answered with a pong.
    Ping = 0x9,
    /// A pong.
    Pong = 0xa,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xa => OpCode::Pong,
            _ => return None,
        })
    }

    fn is_control(self) -> bool {
        self as u8 & 0x8 != 0
    }
}

/// A complete message or control frame from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A text message (valid UTF-8).
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping with its payload.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// A close, with the client's code if it gave one.
    Close(Option<u16>),
}

/// Why the client's bytes are not an acceptable WebSocket stream.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A message (all its fragments together) is over the limit.
    #[error("message of {0} bytes or more is over the limit")]
    TooLarge(u64),
    /// A text message or close reason is not UTF-8.
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    /// Anything else RFC 6455 forbids.
    #[error("websocket protocol violation: {0}")]
    Protocol(&'static str),
}

/// The header of a server frame with FIN set and no mask: 2 to 10 bytes.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    bytes: [u8; 10],
    len: u8,
}

impl Header {
    /// The header of a frame carrying `payload_len` bytes.
    pub fn new(opcode: OpCode, payload_len: usize) -> Header {
        let mut bytes = [0; 10];
        bytes[0] = 0x80 | opcode as u8;
        let len = if payload_len < 126 {
            bytes[1] = payload_len as u8;
            2
        } else if let Ok(short) = u16::try_from(payload_len) {
            bytes[1] = 126;
            bytes[2..4].copy_from_slice(&short.to_be_bytes());
            4
        } else {
            bytes[1] = 127;
            bytes[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
            10
        };
        Header { bytes, len }
    }

    /// The encoded header.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A parsed frame header.
struct FrameHead {
    fin: bool,
    opcode: OpCode,
    /// Header length including the masking key.
    head_len: usize,
    payload_len: u64,
    mask: [u8; 4],
}

/// Parses the header at the start of `buf`; `None` if it is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<FrameHead>, FrameError> {
    let [b0, b1, rest @ ..] = buf else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(FrameError::Protocol("reserved bits set"));
    }
    let opcode = OpCode::from_bits(b0 & 0x0f).ok_or(FrameError::Protocol("unknown opcode"))?;
    if b1 & 0x80 == 0 {
        return Err(FrameError::Protocol("client frames must be masked"));
    }
    let (payload_len, len_bytes) = match b1 & 0x7f {
        126 => match rest {
            [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
            _ => return Ok(None),
        },
        127 => match rest.get(..8) {
            Some(long) => {
                let len = u64::from_be_bytes(long.try_into().unwrap_or_default());
                if len >> 63 != 0 {
                    return Err(FrameError::Protocol("length with the top bit set"));
                }
                (len, 8)
            }
            None => return Ok(None),
        },
        short => (u64::from(short), 0),
    };
    let Some(mask) = rest.get(len_bytes..len_bytes + 4) else {
        return Ok(None);
    };
    let fin = b0 & 0x80 != 0;
    if opcode.is_control() && (!fin || payload_len > 125) {
        return Err(FrameError::Protocol(
            "control frames must be short and whole",
        ));
    }
    Ok(Some(FrameHead {
        fin,
        opcode,
        head_len: 2 + len_bytes + 4,
        payload_len,
        mask: mask.try_into().unwrap_or_default(),
    }))
}

/// The most frames one message may arrive in. The rate limit counts
/// messages, so without a cap a client could send empty continuation frames
/// forever at no cost to itself.
pub const MAX_FRAGMENTS: usize = 256;

/// A fragmented message in progress.
#[derive(Debug)]
struct Partial {
    opcode: OpCode,
    so_far: BytesMut,
    fragments: usize,
}

/// Decodes client frames, reassembling fragmented messages.
#[derive(Debug)]
pub struct Decoder {
    max_message: usize,
    partial: Option<Partial>,
}

impl Decoder {
    /// A decoder refusing messages over `max_message` bytes.
    pub fn new(max_message: usize) -> Decoder {
        Decoder {
            max_message,
            partial: None,
        }
    }

    /// Takes the next complete message or control frame off the front of
    /// `buf`; `None` when more bytes are needed. A message over the limit
    /// is refused from its header, before its payload is buffered.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, FrameError> {
        loop {
            let Some(head) = parse_head(buf)? else {
                return Ok(None);
            };
            let so_far = self.partial.as_ref().map_or(0, |p| p.so_far.len());
            let total = head.payload_len.saturating_add(so_far as u64);
            if !head.opcode.is_control() && total > self.max_message as u64 {
                return Err(FrameError::TooLarge(total));
            }
            // Fits in usize: control frames are at most 125 bytes and data
            // frames at most `max_message`.
            let payload_len = head.payload_len as usize;
            if buf.len() < head.head_len + payload_len {
                buf.reserve(head.head_len + payload_len - buf.len());
                return Ok(None);
            }
            buf.advance(head.head_len);
            let mut payload = buf.split_to(payload_len);
            unmask(&mut payload, head.mask);
            match (head.opcode, self.partial.take()) {
                (OpCode::Ping, partial) => {
                    self.partial = partial;
                    return Ok(Some(Incoming::Ping(payload.freeze())));
                }
                (OpCode::Pong, partial) => {
                    self.partial = partial;
                    return Ok(Some(Incoming::Pong));
                }
                (OpCode::Close, _) => return close(&payload).map(Some),
                (OpCode::Text | OpCode::Binary, Some(_)) => {
                    return Err(FrameError::Protocol("new message inside a fragmented one"));
                }
                (OpCode::Continuation, None) => {
                    return Err(FrameError::Protocol("continuation without a message"));
                }
                (opcode @ (OpCode::Text | OpCode::Binary), None) if head.fin => {
                    return message(opcode, payload).map(Some);
                }
                (opcode @ (OpCode::Text | OpCode::Binary), None) => {
                    self.partial = Some(Partial {
                        opcode,
                        so_far: payload,
                        fragments: 1,
                    });
                }
                (OpCode::Continuation, Some(mut partial)) => {
                    partial.so_far.extend_from_slice(&payload);
                    if head.fin {
                        return message(partial.opcode, partial.so_far).map(Some);
                    }
                    partial.fragments += 1;
                    if partial.fragments >= MAX_FRAGMENTS {
                        return Err(FrameError::Protocol("too many fragments in one message"));
                    }
                    self.partial = Some(partial);
                }
            }
        }
    }
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

fn message(opcode: OpCode, payload: BytesMut) -> Result<Incoming, FrameError> {
    if opcode == OpCode::Binary {
        return Ok(Incoming::Binary(payload.freeze()));
    }
    std::str::from_utf8(&payload).map_err(|_| FrameError::InvalidUtf8)?;
    Ok(Incoming::Text(payload.freeze()))
}

fn close(payload: &[u8]) -> Result<Incoming, FrameError> {
    match payload {
        [] => Ok(Incoming::Close(None)),
        [_] => Err(FrameError::Protocol("close payload of one byte")),
        [a, b, reason @ ..] => {
            std::str::from_utf8(reason).map_err(|_| FrameError::InvalidUtf8)?;
            Ok(Incoming::Close(Some(u16::from_be_bytes([*a, *b]))))
        }
    }
}

#[cfg(test)]
mod tests;
