//! What each client command does once the connection is identified.

use std::time::Duration;

use chinwag_protocol::client::{Publish, Reauth, SendMessage, SetStatus, TopicCommand, Typing};
use chinwag_protocol::event::typing::UserTyping;
use chinwag_protocol::model::PresenceStatus;
use chinwag_protocol::server::{Ack, Pong, Reauthed};
use chinwag_protocol::{ClientFrame, Event, ServerFrame};
use chinwag_realtime::RoomId;
use serde_json::json;
use tokio::time::Instant;

use super::session::{Flow, Read, Session};
use crate::ApiError;
use crate::auth::now_ms;

/// Most publishes [`Session::publish_run`] sends to the engine at once.
const PUBLISH_RUN: usize = 64;
/// Typing indicators last this long on clients.
pub const TYPING_TTL_MS: i64 = 8_000;
/// One `USER_TYPING` per connection and channel per this interval at most.
pub const TYPING_THROTTLE: Duration = Duration::from_secs(3);

impl Session {
    /// Runs one command. Failures are answered with an `error` frame and
    /// the connection goes on; only a dead socket stops it.
    pub(super) async fn handle(&mut self, command: ClientFrame) -> Flow {
        let nonce = command.nonce().map(str::to_string);
        let result = match command {
            ClientFrame::Ping(ping) => Ok(Some(ServerFrame::Pong(Pong { nonce: ping.nonce }))),
            ClientFrame::Identify(_) => Err(ApiError::new(
                chinwag_protocol::ErrorCode::AlreadyIdentified,
                "already identified",
            )),
            ClientFrame::Resume(resume) => {
                return match self.resume(resume.rooms).await {
                    Ok(()) => Flow::Continue,
                    Err(_) => Flow::Stop,
                };
            }
            ClientFrame::Subscribe(cmd) => self.subscribe(cmd).await,
            ClientFrame::Unsubscribe(cmd) => self.unsubscribe(cmd).await,
            ClientFrame::Publish(cmd) => return self.publish_run(cmd).await,
            ClientFrame::Typing(cmd) => self.typing(cmd).await,
            ClientFrame::Reauth(cmd) => self.reauth(cmd).await,
            ClientFrame::SetStatus(cmd) => self.set_status(cmd).await,
            ClientFrame::SendMessage(cmd) => self.send_message(cmd).await,
        };
        let Some(reply) = reply_frame(nonce, result) else {
            return Flow::Continue;
        };
        match self.writer.send_frame(&reply).await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Stop,
        }
    }

    fn ack(nonce: Option<String>, data: serde_json::Value) -> Option<ServerFrame> {
        nonce.map(|nonce| {
            ServerFrame::Ack(Ack {
                nonce,
                data: Some(data),
            })
        })
    }

    /// The same service call and write limit as
    /// `POST /channels/{id}/messages`; the nonce rides on the
    /// `NEW_MESSAGE` event and the ack.
    async fn send_message(&mut self, cmd: SendMessage) -> Result<Option<ServerFrame>, ApiError> {
        self.state.take_write(self.who.user_id, "send_message")?;
        let spec = chinwag_chat::MessageSpec {
            content: cmd.content,
            nonce: Some(cmd.nonce.clone()),
            thread_parent_id: cmd.thread_parent_id,
        };
        let message = self
            .state
            .chat
            .send_message(self.who.user_id, cmd.channel_id, spec)
            .await?;
        Ok(Some(ServerFrame::Ack(Ack {
            nonce: cmd.nonce,
            data: Some(json!({ "message": message })),
        })))
    }

    async fn subscribe(&mut self, cmd: TopicCommand) -> Result<Option<ServerFrame>, ApiError> {
        let room = RoomId::topic(&cmd.topic)?;
        if !self.state.policy.can_subscribe(&self.who, &cmd.topic).await {
            return Err(ApiError::forbidden(format!(
                "not allowed to subscribe to `{}`",
                cmd.topic
            )));
        }
        if !self.conn.in_room(&room) && self.topics_full() {
            return Err(ApiError::bad_request(format!(
                "at most {} topics per connection; unsubscribe from one first",
                self.state.config.gateway.max_topics
            )));
        }
        let pos = self.state.hub.join(&self.conn, &room).await?;
        self.writer.set_floor(&room, &pos);
        Ok(Self::ack(
            cmd.nonce,
            json!({"room": room.as_str(), "epoch": pos.epoch, "offset": pos.offset}),
        ))
    }

    async fn unsubscribe(&mut self, cmd: TopicCommand) -> Result<Option<ServerFrame>, ApiError> {
        let room = RoomId::topic(&cmd.topic)?;
        self.state
            .hub
            .leave(&self.conn, &room, "unsubscribed")
            .await;
        Ok(Self::ack(cmd.nonce, json!({"room": room.as_str()})))
    }

    /// Publishes `first` and the publishes the client sent right behind
    /// it (those already received, up to [`PUBLISH_RUN`]) in one engine
    /// call, so a stream of publishes from one connection costs a broker
    /// round trip per run rather than per publish. They keep their order,
    /// and so do the replies. A different command read meanwhile runs
    /// after the run.
    async fn publish_run(&mut self, first: Publish) -> Flow {
        let (mut run, after) = self.read_publish_run(first).await;
        let mut refused = Vec::with_capacity(run.len());
        let mut allowed = Vec::with_capacity(run.len());
        for cmd in &mut run {
            let verdict = match RoomId::topic(&cmd.topic) {
                Err(err) => Err(ApiError::from(err)),
                Ok(_) if !self.state.policy.can_publish(&self.who, &cmd.topic).await => Err(
                    ApiError::forbidden(format!("not allowed to publish on `{}`", cmd.topic)),
                ),
                Ok(room) => Ok(room),
            };
            refused.push(match verdict {
                Ok(room) => {
                    allowed.push((room, std::mem::take(&mut cmd.data)));
                    None
                }
                Err(err) => Some(err),
            });
        }
        let mut published = self
            .state
            .hub
            .bus_publish_many(Some(self.who.user_id), allowed)
            .await
            .into_iter();
        for (cmd, refusal) in run.into_iter().zip(refused) {
            let result = match refusal {
                Some(err) => Err(err),
                None => match published.next() {
                    Some(Ok(pos)) => Ok(Self::ack(
                        cmd.nonce.clone(),
                        json!({"offset": pos.map(|p| p.offset)}),
                    )),
                    Some(Err(err)) => Err(ApiError::from(err)),
                    None => Err(ApiError::internal("publish result missing")),
                },
            };
            if let Some(frame) = reply_frame(cmd.nonce, result)
                && self.writer.feed_frame(&frame).is_err()
            {
                return Flow::Stop;
            }
        }
        match (self.writer.flush().await, after) {
            (Err(_), _) | (Ok(()), Read::End) => Flow::Stop,
            (Ok(()), Read::Command(command)) => Box::pin(self.handle(command)).await,
            (Ok(()), Read::Nothing) => Flow::Continue,
        }
    }

    /// `first` and the publishes already received behind it, up to
    /// [`PUBLISH_RUN`], with what came after them: another command, the
    /// end of the connection, or nothing yet.
    async fn read_publish_run(&mut self, first: Publish) -> (Vec<Publish>, Read) {
        let mut run = vec![first];
        while run.len() < PUBLISH_RUN {
            match self.read_buffered().await {
                Some(Read::Command(ClientFrame::Publish(cmd))) => run.push(cmd),
                Some(Read::Nothing) => {}
                Some(after) => return (run, after),
                None => break,
            }
        }
        (run, Read::Nothing)
    }

    async fn typing(&mut self, cmd: Typing) -> Result<Option<ServerFrame>, ApiError> {
        let room = [RoomId::channel(cmd.channel_id), RoomId::dm(cmd.channel_id)]
            .into_iter()
            .find(|room| self.conn.in_room(room))
            .ok_or_else(|| ApiError::forbidden("not a member of that channel"))?;
        let now = Instant::now();
        let throttled = self
            .typing
            .get(&cmd.channel_id)
            .is_some_and(|last| now.duration_since(*last) < TYPING_THROTTLE);
        if throttled {
            return Ok(None);
        }
        self.state
            .chat
            .check_may_type(self.who.user_id, cmd.channel_id)
            .await?;
        self.typing
            .retain(|_, last| now.duration_since(*last) < TYPING_THROTTLE);
        self.typing.insert(cmd.channel_id, now);
        let event = Event::UserTyping(UserTyping {
            channel_id: cmd.channel_id,
            user_id: self.who.user_id,
            expires_at: now_ms() + TYPING_TTL_MS,
        });
        self.state.hub.broadcast(&room, event).await?;
        Ok(None)
    }

    /// Swaps the token in place: rooms the new authorization adds start
    /// streaming at once, rooms it drops stop, and rooms kept are never
    /// left, so nothing in them is lost or repeated.
    async fn reauth(&mut self, cmd: Reauth) -> Result<Option<ServerFrame>, ApiError> {
        let who = self.state.verify_token(&cmd.token)?;
        if who.user_id != self.who.user_id || who.role != self.who.role {
            return Err(ApiError::forbidden(
                "the new token is for another user or role; reconnect instead",
            ));
        }
        let grants = self.read_grants(&who).await?;
        let changes = self.sync_rooms(&who, grants).await?;
        let mut rooms_added = changes.added;
        rooms_added.sort_by(|a, b| a.room.cmp(&b.room));
        let mut rooms_removed: Vec<String> =
            changes.removed.iter().map(RoomId::to_string).collect();
        rooms_removed.sort();
        self.who = who;
        self.conn.set_expires_at_ms(self.who.expires_at_ms);
        self.conn.set_session(self.who.session);
        Ok(Some(ServerFrame::Reauthed(Reauthed {
            rooms_added,
            rooms_removed,
            token_expires_at: self.who.expires_at_ms,
        })))
    }

    async fn set_status(&mut self, cmd: SetStatus) -> Result<Option<ServerFrame>, ApiError> {
        if cmd.status == PresenceStatus::Offline {
            return Err(ApiError::bad_request(
                "offline is not a status; disconnect instead",
            ));
        }
        // Each change is a durable event in every community the user is in.
        self.state.take_write(self.who.user_id, "set_status")?;
        self.state
            .presence
            .set_status(self.who.user_id, cmd.status)
            .await?;
        Ok(None)
    }
}

/// The frame answering a command, if it has one.
fn reply_frame(
    nonce: Option<String>,
    result: Result<Option<ServerFrame>, ApiError>,
) -> Option<ServerFrame> {
    match result {
        Ok(frame) => frame,
        Err(err) => Some(ServerFrame::Error(err.frame(nonce))),
    }
}
