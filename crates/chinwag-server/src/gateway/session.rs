//! One WebSocket connection, as an actor: `hello`, identify (URL token or
//! `identify` frame within the deadline), `ready`, an optional resume, then
//! one loop that drains the outbox, reads commands, and watches the
//! heartbeat, the token's expiry, overflow and shutdown.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chinwag_protocol::client::Identify;
use chinwag_protocol::model::PresenceStatus;
use chinwag_protocol::server::{ErrorFrame, Hello, Ready, Reconnect};
use chinwag_protocol::stream::{ResumeRequest, ResumeSummary, Resync, ResyncReason};
use chinwag_protocol::{ClientFrame, CloseCode, CodecError, Encoding, ErrorCode, Id, ServerFrame};
use chinwag_realtime::engine::PresenceOp;
use chinwag_realtime::{ConnHandle, Engine as _, Outbox, Replay, RoomId, RoomKind};
use futures_util::FutureExt;
use tokio::time::Instant;

use super::capacity::Slot;
use super::limits::RateLimiter;
use super::log_budget::LogBudget;
use super::writer::{After, ClientAddr, WireSocket, Writer};
use super::ws::{FrameError, Message, SocketError};
use crate::auth::{Identity, TokenError};
use crate::{ApiError, AppState};

/// Lines a client can cause before or without signing in are capped
/// (`left_out` counts the ones not written): a flood of bad connections
/// must not flood the log.
static IDENTIFY_TIMEOUTS: LogBudget = LogBudget::per_second(10);
static TOKEN_REFUSALS: LogBudget = LogBudget::per_second(10);
static RATE_CLOSES: LogBudget = LogBudget::per_second(10);
static INVALID_CLOSES: LogBudget = LogBudget::per_second(10);
static PROTOCOL_CLOSES: LogBudget = LogBudget::per_second(10);
static USER_LIMIT_REFUSALS: LogBudget = LogBudget::per_second(10);

/// How a client asked to connect: the `/ws` query and its address.
pub struct Request {
    /// The token from the URL, if any (else `identify` brings it).
    pub token: Option<String>,
    /// The frame encoding.
    pub encoding: Encoding,
    /// The client's address, for logs.
    pub client: Option<IpAddr>,
}

/// Starts a session on an upgraded WebSocket as its own task, tracked for
/// shutdown. It holds the connection's `slot` until it ends.
pub fn spawn(socket: WireSocket, state: AppState, request: Request, slot: Slot) {
    let sessions = state.sessions.clone();
    sessions.spawn(drive(socket, state, request, slot));
}

/// Runs a session.
///
/// The returned future is what an idle connection costs, so only the main
/// loop lives in it: the handshake and the clean-up run in boxed futures
/// that exist only while they run.
///
/// The slot is captured here rather than by a wrapping future: awaiting a
/// captured future stores it twice, which would double what an idle
/// connection costs.
fn drive(
    socket: WireSocket,
    state: AppState,
    request: Request,
    slot: Slot,
) -> impl Future<Output = ()> + Send {
    let opening = Box::pin(open(socket, state, request));
    async move {
        let _slot = slot;
        let Some((mut session, outbox, identified)) = opening.await else {
            return;
        };
        if Box::pin(session.start(identified)).await.is_ok() {
            session.serve(outbox).await;
        }
        Box::pin(session.end()).await;
    }
}

/// Says `hello`, waits for a valid identity, and registers the connection.
async fn open(
    socket: WireSocket,
    state: AppState,
    request: Request,
) -> Option<(Session, Outbox, Identified)> {
    let gateway = &state.config.gateway;
    let close_timeout = Duration::from_millis(gateway.close_timeout_ms);
    let stall_timeout = Duration::from_millis(gateway.heartbeat_timeout_ms);
    let mut writer = Writer::new(
        socket,
        request.encoding,
        close_timeout,
        stall_timeout,
        request.client,
        state.metrics.clone(),
    );
    let token = request.token;
    let hello = ServerFrame::Hello(Hello {
        heartbeat_interval_ms: gateway.heartbeat_interval_ms,
        identify_timeout_ms: gateway.identify_timeout_ms,
        max_frame_bytes: gateway.max_frame_bytes,
        node_id: state.hub.node().name().to_string(),
    });
    writer.send_frame(&hello).await.ok()?;
    let mut limiter = RateLimiter::new(gateway.rate_per_sec, gateway.rate_burst);
    let (who, identified) = identify(&mut writer, &state, token, &mut limiter).await?;
    refuse_over_user_limit(&mut writer, &state, &who).await?;
    let (conn, outbox) = state.hub.register(who.user_id, who.role);
    state.metrics.session_opened();
    conn.set_expires_at_ms(who.expires_at_ms);
    conn.set_session(who.session);
    // Shutdown asks every registered connection to close; one that
    // registers after that asks itself.
    if state.shutdown.is_cancelled() {
        conn.request_close(CloseCode::ServerShutdown);
    }
    tracing::debug!(conn = %conn.id(), user = %who.user_id, "connection identified");
    let session = Session {
        state,
        who,
        conn,
        writer,
        limiter,
        invalid: 0,
        typing: HashMap::new(),
    };
    Some((session, outbox, identified))
}

/// What a client hears before a shutdown closes it (4011).
fn reconnect_for_shutdown() -> ServerFrame {
    reconnect("shutdown")
}

/// A `reconnect` frame, sent before a close the client should resume after.
fn reconnect(reason: &str) -> ServerFrame {
    ServerFrame::Reconnect(Reconnect {
        reason: reason.into(),
    })
}

/// The `identify` content, whether it came in the URL or a frame.
struct Identified {
    resume: Option<ResumeRequest>,
    status: Option<PresenceStatus>,
}

/// How a frame read went.
pub(super) enum Read {
    /// A command.
    Command(ClientFrame),
    /// Nothing to act on (a ping frame, an answered bad frame).
    Nothing,
    /// The connection is over (closed, or closed by us with a code).
    End,
}

async fn identify(
    writer: &mut Writer,
    state: &AppState,
    token: Option<String>,
    limiter: &mut RateLimiter,
) -> Option<(Identity, Identified)> {
    let gateway = &state.config.gateway;
    if let Some(token) = token {
        let who = verify_or_close(writer, state, &token).await?;
        return Some((
            who,
            Identified {
                resume: None,
                status: None,
            },
        ));
    }
    let deadline = Instant::now() + Duration::from_millis(gateway.identify_timeout_ms);
    let mut invalid = 0;
    loop {
        // Shutdown does not wait out the identify deadline (as long as the
        // drain timeout) for a connection that has not identified.
        let next = tokio::select! {
            next = tokio::time::timeout_at(deadline, writer.socket().recv()) => next,
            () = state.shutdown.cancelled() => {
                let _ = writer.send_frame(&reconnect_for_shutdown()).await;
                writer.close(CloseCode::ServerShutdown).await;
                return None;
            }
        };
        let Ok(next) = next else {
            if let Some(left_out) = IDENTIFY_TIMEOUTS.take() {
                tracing::info!(client = %writer.client(), left_out, "no identify in time: closing");
            }
            writer.close(CloseCode::IdentifyTimeout).await;
            return None;
        };
        match read_frame(
            writer,
            next,
            limiter,
            &mut invalid,
            gateway.max_invalid_frames,
        )
        .await
        {
            Read::Command(ClientFrame::Identify(Identify {
                token,
                resume,
                status,
            })) => {
                let who = verify_or_close(writer, state, &token).await?;
                return Some((who, Identified { resume, status }));
            }
            Read::Command(ClientFrame::Ping(ping)) => {
                let pong = ServerFrame::Pong(chinwag_protocol::server::Pong { nonce: ping.nonce });
                if writer.send_frame(&pong).await.is_err() {
                    return None;
                }
            }
            Read::Command(other) => {
                let frame = ServerFrame::Error(ErrorFrame {
                    code: ErrorCode::NotIdentified,
                    message: "send identify first".into(),
                    nonce: other.nonce().map(str::to_string),
                });
                if writer.send_frame(&frame).await.is_err() {
                    return None;
                }
            }
            Read::Nothing => {}
            Read::End => return None,
        }
    }
}

/// Refuses a connection beyond `gateway.max_connections_per_user` (all
/// nodes together, as the presence registry counts them): `error`
/// `RATE_LIMITED`, then 4008. Two identifies racing at the limit may both
/// pass; the limit bounds what one account can hold, not exactly.
async fn refuse_over_user_limit(
    writer: &mut Writer,
    state: &AppState,
    who: &Identity,
) -> Option<()> {
    let max = state.config.gateway.max_connections_per_user;
    let held = match state
        .hub
        .engine()
        .presence(who.user_id, PresenceOp::Peek)
        .await
    {
        Ok(snap) => snap.connections,
        Err(err) => {
            // Counting failed (the engine is down): the connect itself
            // will fail or succeed on its own terms.
            tracing::warn!(%err, "could not count the user's connections");
            return Some(());
        }
    };
    if held < max {
        return Some(());
    }
    if let Some(left_out) = USER_LIMIT_REFUSALS.take() {
        tracing::info!(user = %who.user_id, held, max, left_out, "too many connections for one user: refusing");
    }
    let frame = ServerFrame::Error(ErrorFrame {
        code: ErrorCode::RateLimited,
        message: format!("this user already holds {held} connections (at most {max})"),
        nonce: None,
    });
    let _ = writer.send_frame(&frame).await;
    writer.close(CloseCode::RateLimited).await;
    None
}

/// Verifies a token; on failure answers with an `error` frame and closes
/// with 4004 (expired), 4012 (its session signed out) or 4003 (anything
/// else).
async fn verify_or_close(writer: &mut Writer, state: &AppState, token: &str) -> Option<Identity> {
    match state.verify_token(token) {
        Ok(who) => Some(who),
        Err(err) => {
            let close = match err {
                TokenError::Expired => CloseCode::TokenExpired,
                TokenError::Revoked => CloseCode::SessionRevoked,
                TokenError::Invalid(_) => CloseCode::AuthFailed,
            };
            if let Some(left_out) = TOKEN_REFUSALS.take() {
                tracing::info!(node = state.hub.node().name(), client = %writer.client(), %err, left_out, "token refused");
            }
            // The error code is the one REST answers with.
            let frame = ServerFrame::Error(ApiError::from(err).frame(None));
            let _ = writer.send_frame(&frame).await;
            writer.close(close).await;
            None
        }
    }
}

/// Turns one read from the socket into a command, answering bad frames
/// and enforcing the rate and size limits.
async fn read_frame(
    writer: &mut Writer,
    next: Option<Result<Message, SocketError>>,
    limiter: &mut RateLimiter,
    invalid: &mut u32,
    max_invalid: u32,
) -> Read {
    let message = match next {
        None => return Read::End,
        Some(Ok(message)) => message,
        Some(Err(err)) => {
            if let Some(code) = close_code_for(err, writer.client()) {
                writer.close(code).await;
            }
            return Read::End;
        }
    };
    // WebSocket pings count against the rate like commands do.
    if !limiter.allow() {
        if let Some(left_out) = RATE_CLOSES.take() {
            tracing::info!(client = %writer.client(), left_out, "client over the rate limit: closing");
        }
        let frame = ServerFrame::Error(ErrorFrame {
            code: ErrorCode::RateLimited,
            message: "too many frames".into(),
            nonce: None,
        });
        let _ = writer.send_frame(&frame).await;
        writer.close(CloseCode::RateLimited).await;
        return Read::End;
    }
    let (bytes, encoding) = match message {
        Message::Text(bytes) => (bytes, Encoding::Json),
        Message::Binary(bytes) => (bytes, Encoding::MsgPack),
        Message::Control => return Read::Nothing,
    };
    match encoding.decode_command(&bytes) {
        Ok(command) => {
            *invalid = 0;
            Read::Command(command)
        }
        Err(err) => {
            *invalid += 1;
            let code = match err {
                CodecError::UnknownOp(_) => ErrorCode::UnknownOp,
                CodecError::Invalid(_) => ErrorCode::InvalidFrame,
            };
            let frame = ServerFrame::Error(ErrorFrame {
                code,
                message: err.to_string(),
                nonce: None,
            });
            if writer.send_frame(&frame).await.is_err() {
                return Read::End;
            }
            if *invalid >= max_invalid {
                if let Some(left_out) = INVALID_CLOSES.take() {
                    tracing::info!(client = %writer.client(), invalid = *invalid, left_out, "too many invalid frames: closing");
                }
                writer.close(CloseCode::InvalidFrames).await;
                return Read::End;
            }
            Read::Nothing
        }
    }
}

/// The close code for a transport error, if the peer can still hear one
/// (then the error is logged at info: the client broke the protocol).
fn close_code_for(err: SocketError, client: ClientAddr) -> Option<CloseCode> {
    let code = match &err {
        SocketError::Frame(FrameError::TooLarge(_)) => Some(CloseCode::FrameTooLarge),
        SocketError::Frame(FrameError::InvalidUtf8) => Some(CloseCode::InvalidUtf8),
        SocketError::Frame(FrameError::Protocol(_)) => Some(CloseCode::InvalidFrames),
        SocketError::Io(_) => None,
    };
    match code {
        Some(code) => {
            if let Some(left_out) = PROTOCOL_CLOSES.take() {
                tracing::info!(%client, %err, code = code.code(), left_out, "protocol error: closing");
            }
        }
        None => tracing::debug!(%client, %err, "connection error"),
    }
    code
}

/// An identified connection.
pub(super) struct Session {
    pub(super) state: AppState,
    pub(super) who: Identity,
    pub(super) conn: Arc<ConnHandle>,
    pub(super) writer: Writer,
    pub(super) limiter: RateLimiter,
    pub(super) invalid: u32,
    pub(super) typing: HashMap<Id, Instant>,
}

/// Whether the session goes on after a command.
pub(super) enum Flow {
    Continue,
    Stop,
}

impl Session {
    /// Clean-up after the connection ends: leave every room and tell
    /// presence (which takes the user out of voice once they are offline).
    async fn end(self) {
        let state = &self.state;
        let user = self.who.user_id;
        state.hub.unregister(&self.conn).await;
        if let Err(err) = state.presence.disconnected(user, self.conn.id()).await {
            tracing::error!(%err, "presence update on disconnect failed");
        }
        tracing::debug!(conn = %self.conn.id(), "connection closed");
    }

    /// The main loop. It waits on two things only, the outbox and the
    /// socket: closes (overflow, shutdown, the reaper's heartbeat and token
    /// checks) are requested on the connection and wake the outbox.
    async fn serve(&mut self, mut outbox: Outbox) {
        let gateway = &self.state.config.gateway;
        let (write_batch, max_invalid) = (gateway.write_batch, gateway.max_invalid_frames);
        let mut batch = Vec::new();
        let conn = self.conn.clone();
        loop {
            tokio::select! {
                biased;
                received = outbox.recv_many(&mut batch, write_batch) => {
                    if let Some(code) = conn.close_requested() {
                        Box::pin(self.close_as_requested(code)).await;
                        return;
                    }
                    if received == 0 {
                        return;
                    }
                    // A write stuck on a slow client still hears a close.
                    let written = tokio::select! {
                        biased;
                        result = self.writer.write_batch(&mut batch) => result,
                        () = outbox.woken() => {
                            // Woken only by a close request, or because the
                            // hub dropped the connection.
                            if let Some(code) = conn.close_requested() {
                                Box::pin(self.close_as_requested(code)).await;
                            }
                            return;
                        }
                    };
                    match written {
                        Ok(After::Continue) => {}
                        Ok(After::Closed) | Err(_) => return,
                    }
                    if let Some(dropped) = conn.take_ephemeral_drops()
                        && Box::pin(self.writer.send_lagged(dropped, &[])).await.is_err()
                    {
                        return;
                    }
                }
                next = self.writer.socket().recv() => {
                    conn.heard();
                    let read = read_frame(&mut self.writer, next, &mut self.limiter, &mut self.invalid, max_invalid);
                    match Box::pin(read).await {
                        Read::Command(command) => {
                            if let Flow::Stop = Box::pin(self.handle(command)).await {
                                return;
                            }
                        }
                        Read::Nothing => {}
                        Read::End => return,
                    }
                }
            }
        }
    }

    /// The next frame if the client already sent it, read without
    /// waiting and checked as the main loop checks every frame.
    pub(super) async fn read_buffered(&mut self) -> Option<Read> {
        let next = self.writer.socket().recv().now_or_never()?;
        self.conn.heard();
        let max_invalid = self.state.config.gateway.max_invalid_frames;
        let read = read_frame(
            &mut self.writer,
            next,
            &mut self.limiter,
            &mut self.invalid,
            max_invalid,
        );
        Some(Box::pin(read).await)
    }

    /// Closes the connection the way a requested close code asks.
    async fn close_as_requested(&mut self, code: CloseCode) {
        let frame = match code {
            CloseCode::SlowConsumer => return self.close_slow().await,
            CloseCode::ServerShutdown => Some(reconnect_for_shutdown()),
            CloseCode::Rejoin => Some(reconnect("rejoin")),
            CloseCode::TokenExpired => Some(ServerFrame::Error(ErrorFrame {
                code: ErrorCode::TokenExpired,
                message: "token expired; reconnect with a new token".into(),
                nonce: None,
            })),
            _ => None,
        };
        tracing::info!(
            node = self.state.hub.node().name(),
            conn = %self.conn.id(),
            user = %self.who.user_id,
            client = %self.writer.client(),
            code = code.code(),
            reason = code.reason(),
            "closing connection"
        );
        self.finish(frame, code).await;
    }

    /// Joins the connection's rooms, reports presence, sends `ready`, and
    /// resumes if asked.
    async fn start(&mut self, identified: Identified) -> io::Result<()> {
        let who = self.who.clone();
        let grants = match self.read_grants(&who).await {
            Ok(grants) => grants,
            Err(err) => return self.fail_start(err).await,
        };
        // Presence goes out before the joins, so this connection's own
        // `USER_ONLINE` lies before its join positions: a client that sends
        // `resume` after `ready` can still replay what it missed there.
        let presence_rooms = self.state.policy.presence_rooms_among(&grants.granted);
        // `offline` is not a status a connection can hold.
        let status = identified.status.filter(|s| *s != PresenceStatus::Offline);
        if let Err(err) = self
            .state
            .presence
            .connected(self.who.user_id, self.conn.id(), status, presence_rooms)
            .await
        {
            tracing::error!(%err, "presence update on connect failed");
        }
        let positions = match self.sync_rooms(&who, grants).await {
            Ok(changes) => changes.added,
            Err(err) => return self.fail_start(err).await,
        };
        let status = match self.state.presence.current(self.who.user_id).await {
            Ok(presence) if presence.status != PresenceStatus::Offline => presence.status,
            _ => status.unwrap_or(PresenceStatus::Online),
        };
        let ready = ServerFrame::Ready(Ready {
            conn_id: self.conn.id().to_string(),
            user_id: self.who.user_id,
            role: self.who.role,
            status,
            rooms: positions,
            token_expires_at: self.who.expires_at_ms,
        });
        self.writer.send_frame(&ready).await?;
        if let Some(request) = identified.resume {
            self.resume(request).await?;
        }
        Ok(())
    }

    /// Whether the connection has as many topics as it may
    /// (`gateway.max_topics`).
    pub(super) fn topics_full(&self) -> bool {
        self.conn.room_count(RoomKind::Topic) >= self.state.config.gateway.max_topics
    }

    /// Tells the client why the connection cannot start, and closes it.
    async fn fail_start(&mut self, err: ApiError) -> io::Result<()> {
        let _ = self
            .writer
            .send_frame(&ServerFrame::Error(err.frame(None)))
            .await;
        self.writer.close(CloseCode::InternalError).await;
        Err(io::Error::other(err))
    }

    /// Replays what the client missed in each room it names, re-checking
    /// access for the room and for each event, then sends `resumed`.
    pub(super) async fn resume(&mut self, request: ResumeRequest) -> io::Result<()> {
        let mut summary = ResumeSummary::default();
        for (name, since) in request {
            let room = match RoomId::parse(&name) {
                Ok(room) if self.conn.in_room(&room) => room,
                // A topic the client was subscribed to: resuming it
                // subscribes again, if the policy still allows it.
                Ok(room)
                    if room.kind() == RoomKind::Topic
                        && !self.topics_full()
                        && self.state.policy.can_subscribe(&self.who, room.key()).await =>
                {
                    let head = self
                        .state
                        .hub
                        .join(&self.conn, &room)
                        .await
                        .map_err(io::Error::other)?;
                    self.writer.set_floor(&room, &head);
                    room
                }
                _ => {
                    summary.denied.push(name);
                    continue;
                }
            };
            if let Some(position) = self.writer.live_ahead(&room, &since) {
                summary.resync.push(Resync {
                    room: name,
                    reason: ResyncReason::LiveAhead,
                    position,
                });
                continue;
            }
            let replay = match self.state.hub.replay(&room, &since).await {
                Ok(replay) => replay,
                Err(err) => {
                    tracing::error!(%room, %err, "replay failed");
                    let head = self.state.hub.head(&room).await.unwrap_or(since.clone());
                    Replay::Resync {
                        reason: ResyncReason::HistoryTruncated,
                        head,
                    }
                }
            };
            match replay {
                Replay::Events(frames) => {
                    let mut count = 0;
                    for frame in frames {
                        if !frame.is_for(self.who.role)
                            || !self.state.policy.can_replay(&self.who, &frame)
                        {
                            continue;
                        }
                        if self.writer.feed_event(frame, true) {
                            count += 1;
                        }
                    }
                    self.writer.flush().await?;
                    summary.replayed.insert(name, count);
                }
                Replay::Resync { reason, head } => {
                    self.writer.set_floor(&room, &head);
                    summary.resync.push(Resync {
                        room: name,
                        reason,
                        position: head,
                    });
                }
            }
        }
        self.writer.send_frame(&ServerFrame::Resumed(summary)).await
    }

    async fn close_slow(&mut self) {
        let timeout = Duration::from_millis(self.state.config.gateway.close_timeout_ms);
        let (dropped, rooms) = self.conn.take_lag().unwrap_or_default();
        tracing::info!(
            node = self.state.hub.node().name(),
            conn = %self.conn.id(),
            user = %self.who.user_id,
            client = %self.writer.client(),
            rooms = rooms.len(),
            "closing slow consumer"
        );
        let _ = tokio::time::timeout(timeout, async {
            if self.writer.send_lagged(dropped, &rooms).await.is_ok() {
                self.writer.close(CloseCode::SlowConsumer).await;
            }
        })
        .await;
    }

    async fn finish(&mut self, frame: Option<ServerFrame>, code: CloseCode) {
        let timeout = Duration::from_millis(self.state.config.gateway.close_timeout_ms);
        let _ = tokio::time::timeout(timeout, async {
            if let Some(frame) = frame {
                let _ = self.writer.send_frame(&frame).await;
            }
            self.writer.close(code).await;
        })
        .await;
    }
}
