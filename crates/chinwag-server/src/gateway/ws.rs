//! The gateway's own WebSocket transport, server side only.
//!
//! Events are written straight from the bytes a fan-out shares: a 2-10 byte
//! header and the payload go out in one vectored write with the rest of
//! the batch, with no per-recipient copy or framing object. An idle
//! connection holds no read or write buffer.
//!
//! - [`upgrade`]: the HTTP/1.1 handshake.
//! - [`frame`]: RFC 6455 framing and the client-frame decoder.
//! - [`socket`]: one connection's reads, writes and closing handshake.

pub mod frame;
pub mod socket;
pub mod upgrade;

pub use frame::{FrameError, OpCode};
pub use socket::{Message, Socket, SocketError};
pub use upgrade::Upgraded;
