//! [`BodyDeadline`]: a request body that fails once its deadline passes, so
//! a client that sends headers and then part of a body cannot hold the
//! connection (and its file descriptor) for good. The handler reading it
//! gets an error and answers 400, and hyper closes the connection, whose
//! body was never finished.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

/// The error a body past its deadline gives.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTooSlow(Duration);

/// `B`, failing with [`BodyTooSlow`] once `timeout` has passed.
pub struct BodyDeadline<B> {
    body: B,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<B> BodyDeadline<B> {
    /// `body`, which must be complete within `timeout` from now.
    pub fn new(body: B, timeout: Duration) -> Self {
        BodyDeadline {
            body,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl<B> Body for BodyDeadline<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTooSlow(self.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
