//! Membership changes that survive a broker blip. A distributed engine
//! keeps control messages in a bounded log with gap-free sequence numbers
//! (under an epoch) and sends each one live with its position. A node
//! applies them through a [`ControlCursor`]: repeats are skipped, a gap is
//! filled from the log, and after a reconnect the node reads what it
//! missed. When the log no longer holds what was missed (or was reset),
//! the node cannot know which of its connections changed rooms, so it
//! hands the hub [`ControlMsg::Lost`], which makes every local connection
//! reconnect and resume with its rooms computed afresh.

use std::future::Future;
use std::sync::Mutex;

use chinwag_protocol::StreamPos;

use crate::HubError;
use crate::conn::lock;
use crate::engine::{ControlMsg, ControlSender};

/// Control messages kept in the log: enough for a blip of minutes at any
/// realistic rate of membership changes.
pub(crate) const CONTROL_LOG_LEN: usize = 10_000;

/// The control log as read after a reconnect.
#[derive(Debug)]
pub(crate) struct LogRead {
    /// The log's epoch.
    pub epoch: String,
    /// The offset of its last message (0 if none).
    pub head: u64,
    /// Its messages after the offset asked for, up to `head`, in order.
    pub missed: Vec<(u64, ControlMsg)>,
}

/// What to do with a control message, given the last one applied.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ControlVerdict {
    /// The next one: apply it.
    Apply,
    /// Already applied: skip it.
    Skip,
    /// Messages after `after` and before this one were missed: read them
    /// from the log first.
    Fill { after: u64 },
    /// The log was reset (a new epoch): what was missed is unknown.
    Lost,
}

/// Judges a message at `pos` against the last applied position.
pub(crate) fn judge_control(last: Option<&StreamPos>, pos: &StreamPos) -> ControlVerdict {
    match last {
        None => ControlVerdict::Apply,
        Some(last) if last.epoch != pos.epoch => ControlVerdict::Lost,
        Some(last) if pos.offset <= last.offset => ControlVerdict::Skip,
        Some(last) if pos.offset == last.offset + 1 => ControlVerdict::Apply,
        Some(last) => ControlVerdict::Fill { after: last.offset },
    }
}

/// The position of the last control message this node applied.
#[derive(Debug, Default)]
pub(crate) struct ControlCursor(Mutex<Option<StreamPos>>);

impl ControlCursor {
    /// Starts at the log's head, read before subscribing: anything sent in
    /// between shows up as a gap and is filled.
    pub fn start(&self, head: StreamPos) {
        *lock(&self.0) = Some(head);
    }

    /// The last applied position.
    pub fn last(&self) -> Option<StreamPos> {
        lock(&self.0).clone()
    }

    /// Applies a live message at `pos`, first filling any gap before it
    /// with `fill(after, before)`, which returns the log's messages with
    /// offsets in `after+1..before`.
    pub async fn receive<F, Fut>(
        &self,
        hub: &ControlSender,
        pos: StreamPos,
        msg: ControlMsg,
        fill: F,
    ) where
        F: FnOnce(u64, u64) -> Fut,
        Fut: Future<Output = Result<Vec<(u64, ControlMsg)>, HubError>>,
    {
        let verdict = judge_control(self.last().as_ref(), &pos);
        match verdict {
            ControlVerdict::Skip => return,
            ControlVerdict::Apply => {}
            ControlVerdict::Lost => lost(hub, "the control log was reset"),
            ControlVerdict::Fill { after } => {
                tracing::warn!(from = after, to = pos.offset, "filling a control gap");
                let missed = fill(after, pos.offset).await;
                self.apply_run(hub, &pos.epoch, after, pos.offset, missed);
            }
        }
        let _ = hub.send(msg);
        self.advance(pos);
    }

    /// After a reconnect: applies what the log holds after the cursor.
    /// `read(after)` gives the log's epoch, head and messages after `after`.
    pub async fn catch_up<F, Fut>(&self, hub: &ControlSender, read: F)
    where
        F: FnOnce(u64) -> Fut,
        Fut: Future<Output = Result<LogRead, HubError>>,
    {
        let Some(last) = self.last() else {
            return;
        };
        match read(last.offset).await {
            Ok(log) if log.epoch != last.epoch => {
                lost(hub, "the control log was reset");
                self.advance(StreamPos {
                    epoch: log.epoch,
                    offset: log.head,
                });
            }
            Ok(log) if log.head > last.offset => {
                self.apply_run(hub, &log.epoch, last.offset, log.head + 1, Ok(log.missed));
            }
            Ok(_) => {}
            Err(err) => {
                tracing::error!(%err, "control catch-up failed");
                lost(hub, "control catch-up failed");
            }
        }
    }

    /// Applies `missed`, which must be exactly the offsets `after+1..before`;
    /// anything else means the log lost some, and the node starts over.
    fn apply_run(
        &self,
        hub: &ControlSender,
        epoch: &str,
        after: u64,
        before: u64,
        missed: Result<Vec<(u64, ControlMsg)>, HubError>,
    ) {
        let missed = match missed {
            Ok(missed) => missed,
            Err(err) => {
                tracing::error!(%err, "reading the control log failed");
                Vec::new()
            }
        };
        let complete = missed.len() as u64 == before - after - 1
            && missed
                .iter()
                .zip(after + 1..)
                .all(|((offset, _), want)| *offset == want);
        if !complete {
            lost(hub, "the control log no longer holds what was missed");
            return self.advance(StreamPos {
                epoch: epoch.to_string(),
                offset: before - 1,
            });
        }
        for (offset, msg) in missed {
            let _ = hub.send(msg);
            self.advance(StreamPos {
                epoch: epoch.to_string(),
                offset,
            });
        }
    }

    fn advance(&self, pos: StreamPos) {
        let mut last = lock(&self.0);
        if last
            .as_ref()
            .is_none_or(|l| l.epoch != pos.epoch || l.offset < pos.offset)
        {
            *last = Some(pos);
        }
    }
}

fn lost(hub: &ControlSender, why: &'static str) {
    tracing::error!(
        why,
        "membership changes were lost; every local connection reconnects"
    );
    let _ = hub.send(ControlMsg::Lost);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(epoch: &str, offset: u64) -> StreamPos {
        StreamPos {
            epoch: epoch.into(),
            offset,
        }
    }

    #[test]
    fn judges_repeats_gaps_and_resets() {
        use ControlVerdict::*;
        assert_eq!(judge_control(None, &pos("a", 9)), Apply);
        assert_eq!(judge_control(Some(&pos("a", 4)), &pos("a", 5)), Apply);
        assert_eq!(judge_control(Some(&pos("a", 4)), &pos("a", 4)), Skip);
        assert_eq!(
            judge_control(Some(&pos("a", 4)), &pos("a", 8)),
            Fill { after: 4 }
        );
        assert_eq!(judge_control(Some(&pos("a", 4)), &pos("b", 1)), Lost);
    }
}
