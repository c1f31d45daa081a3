//! One upgraded connection: reads the client's messages (answering pings
//! and the closing handshake itself) and writes queued frames, many per
//! system call, straight from the shared event bytes.
//!
//! An idle socket holds no buffers: the read buffer is dropped whenever it
//! empties, and the write queue whenever a flush completes.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::frame::{Decoder, FrameError, Header, Incoming, OpCode};

/// Frames (header and payload) handed to one vectored write at most: a
/// whole outbox batch (`gateway.write_batch`, default 128) is one system
/// call. Well under the kernel's 1024-slice limit.
const FRAMES_PER_WRITE: usize = 128;
/// Up to this many queued frames are written from a small slice array.
const FEW_FRAMES: usize = 4;
/// Queued bytes up to this many are copied into one buffer and written
/// with a plain write: for a few small frames that is cheaper in the
/// kernel than a vectored write of their parts (a TCP socket's plain write
/// is a `send`, which skips the file layer and the slice import).
const COPY_UP_TO: usize = 2048;
/// Bytes read from the socket per system call.
const READ_CHUNK: usize = 4096;

/// A message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping or pong (a ping was answered already).
    Control,
}

/// Why the connection cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The client broke the protocol or a limit.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The transport failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A frame waiting to be written.
#[derive(Debug)]
struct Pending<P> {
    header: Header,
    payload: P,
    /// Bytes of header and payload already written.
    written: usize,
}

impl<P: AsRef<[u8]>> Pending<P> {
    /// The unwritten parts, as up to two slices.
    fn unwritten(&self) -> [&[u8]; 2] {
        let header = self.header.as_slice();
        match self.written.checked_sub(header.len()) {
            None => [&header[self.written..], self.payload.as_ref()],
            Some(into_payload) => [&[], &self.payload.as_ref()[into_payload..]],
        }
    }

    fn len(&self) -> usize {
        self.header.as_slice().len() + self.payload.as_ref().len()
    }
}

/// A server-side WebSocket over any byte stream. Outgoing payloads are
/// `P`: anything that holds bytes, so a caller can queue what already owns
/// them (the writer queues shared event frames as they are).
#[derive(Debug)]
pub struct Socket<Io, P = Bytes> {
    io: Io,
    read_buf: BytesMut,
    decoder: Decoder,
    queue: VecDeque<Pending<P>>,
    /// The client's close arrived (our answer is queued).
    peer_closed: bool,
    /// Our close frame is queued or sent.
    close_sent: bool,
}

impl<Io, P> Socket<Io, P>
where
    Io: AsyncRead + AsyncWrite + Unpin,
    P: AsRef<[u8]> + From<Bytes>,
{
    /// A socket refusing client messages over `max_message` bytes.
    pub fn new(io: Io, max_message: usize) -> Socket<Io, P> {
        Socket {
            io,
            read_buf: BytesMut::new(),
            decoder: Decoder::new(max_message),
            queue: VecDeque::new(),
            peer_closed: false,
            close_sent: false,
        }
    }

    /// Queues a frame; it is written by the next flush. Nothing is queued
    /// after a close frame.
    pub fn feed(&mut self, opcode: OpCode, payload: P) {
        if self.close_sent {
            return;
        }
        self.close_sent = opcode == OpCode::Close;
        self.queue.push_back(Pending {
            header: Header::new(opcode, payload.as_ref().len()),
            payload,
            written: 0,
        });
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Sends a close frame with `code` and `reason`, then ends the stream.
    /// A closed peer is not an error worth reporting: this is the end.
    pub async fn close(&mut self, code: u16, reason: &str) {
        let mut payload = Vec::with_capacity(2 + reason.len());
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(reason.as_bytes());
        self.feed(OpCode::Close, Bytes::from(payload).into());
        if self.flush().await.is_ok() {
            let _ = poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await;
        }
    }

    /// After [`Socket::close`]: reads, and drops, what the client still
    /// sends until it closes too (its close frame, or the end of the
    /// stream). Dropping a TCP socket with unread input sends a reset, and
    /// a reset throws away whatever the kernel has not delivered yet, the
    /// close frame included: a slow client would see a broken connection
    /// instead of its close code. Callers bound the wait.
    pub async fn linger(&mut self) {
        while let Some(Ok(_)) = self.recv().await {}
    }

    /// The next message; `None` once the connection is over (the client
    /// closed it, and its close was answered, or the stream ended).
    /// Cancel-safe: a partly read frame stays buffered.
    pub async fn recv(&mut self) -> Option<Result<Message, SocketError>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.queue.is_empty() {
            // A few small frames (the usual case at low rates) go out as one
            // copied buffer; a lone larger one does not pay for setting up
            // a slice array sized for a whole batch.
            let written = if self.fits_one_copy() {
                ready!(self.poll_write_copied(cx))?
            } else if self.queue.len() <= FEW_FRAMES {
                ready!(self.poll_write_front::<{ 2 * FEW_FRAMES }>(cx))?
            } else {
                ready!(self.poll_write_front::<{ 2 * FRAMES_PER_WRITE }>(cx))?
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.consume(written);
        }
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        // An idle connection keeps no queue.
        self.queue = VecDeque::new();
        Poll::Ready(Ok(()))
    }

    /// Whether everything queued and not yet written fits in one copied
    /// write. Stops counting at the limit, so a long queue costs no more.
    fn fits_one_copy(&self) -> bool {
        let mut total = 0;
        self.queue.iter().all(|p| {
            total += p.len() - p.written;
            total <= COPY_UP_TO
        })
    }

    /// One plain write of everything queued, copied into one buffer (at
    /// most [`COPY_UP_TO`] bytes).
    fn poll_write_copied(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut buf = [0u8; COPY_UP_TO];
        let mut len = 0;
        for part in self.queue.iter().flat_map(Pending::unwritten) {
            buf[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        Pin::new(&mut self.io).poll_write(cx, &buf[..len])
    }

    /// One vectored write of the first `SLICES / 2` queued frames.
    fn poll_write_front<const SLICES: usize>(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        let mut slices = [IoSlice::new(&[]); SLICES];
        let mut count = 0;
        for part in self
            .queue
            .iter()
            .take(SLICES / 2)
            .flat_map(Pending::unwritten)
        {
            if !part.is_empty() {
                slices[count] = IoSlice::new(part);
                count += 1;
            }
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..count])
    }

    /// Drops what a write of `written` bytes sent.
    fn consume(&mut self, mut written: usize) {
        while let Some(front) = self.queue.front_mut() {
            let left = front.len() - front.written;
            if written < left {
                front.written += written;
                return;
            }
            written -= left;
            self.queue.pop_front();
        }
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, SocketError>>> {
        loop {
            if !self.queue.is_empty() {
                // Pongs and the close answer go out as soon as they can;
                // a client that does not read them does not stop reads.
                match self.poll_flush(cx) {
                    Poll::Ready(Err(err)) => return Poll::Ready(Some(Err(err.into()))),
                    Poll::Ready(Ok(())) => {}
                    Poll::Pending if self.peer_closed => return Poll::Pending,
                    Poll::Pending => {}
                }
            }
            if self.peer_closed {
                return Poll::Ready(None);
            }
            match self.decoder.decode(&mut self.read_buf) {
                Err(err) => return Poll::Ready(Some(Err(err.into()))),
                Ok(Some(Incoming::Text(bytes))) => {
                    return Poll::Ready(Some(Ok(Message::Text(bytes))));
                }
                Ok(Some(Incoming::Binary(bytes))) => {
                    return Poll::Ready(Some(Ok(Message::Binary(bytes))));
                }
                Ok(Some(Incoming::Ping(payload))) => {
                    self.feed(OpCode::Pong, payload.into());
                    return Poll::Ready(Some(Ok(Message::Control)));
                }
                Ok(Some(Incoming::Pong)) => return Poll::Ready(Some(Ok(Message::Control))),
                Ok(Some(Incoming::Close(code))) => {
                    let echo =
                        code.map_or_else(Bytes::new, |c| Bytes::copy_from_slice(&c.to_be_bytes()));
                    self.feed(OpCode::Close, echo.into());
                    self.peer_closed = true;
                    continue;
                }
                Ok(None) => {}
            }
            if self.read_buf.is_empty() {
                // Idle connections keep no read buffer.
                self.read_buf = BytesMut::new();
            }
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut chunk = ReadBuf::uninit(&mut chunk);
            match Pin::new(&mut self.io).poll_read(cx, &mut chunk) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(err)) => return Poll::Ready(Some(Err(err.into()))),
                Poll::Ready(Ok(())) if chunk.filled().is_empty() => return Poll::Ready(None),
                Poll::Ready(Ok(())) => self.read_buf.extend_from_slice(chunk.filled()),
            }
        }
    }
}

#[cfg(test)]
mod tests;
