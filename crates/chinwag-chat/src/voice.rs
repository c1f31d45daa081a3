//! Voice presence as state (no media): join, update mute/deafen, and leave
//! a community voice channel (`VOICE_CHANNEL_USER_*` to `channel:{id}`)
//! or a DM call (`DM_VOICE_USER_*` to `dm:{id}`, and
//! `DM_VOICE_CALL_STARTED` when the first participant joins). The state
//! lives in the store, so every node sees the same; each change carries
//! the user's voice version.
//!
//! A user whose connections all drop leaves voice after a grace period
//! ([`Chat::leave_voice_if_gone`], called by the server's [`VoiceReaper`]).

use std::sync::Arc;
use std::time::Duration;

use chinwag_protocol::event::voice::{DmVoiceCallStarted, VoiceStateChanged};
use chinwag_protocol::model::{ChannelKind, VoiceState};
use chinwag_protocol::{Event, Id};
use chinwag_realtime::RoomId;

use crate::chat::Chat;
use crate::error::{ChatError, Result};

/// Where a voice state's changes go: the voice channel's room, whose
/// members are exactly those who may see the channel (a private voice
/// channel's occupants are not shown to the rest of the community), or
/// the DM's room.
fn voice_room(state: &VoiceState) -> RoomId {
    match state.community_id {
        Some(_) => RoomId::channel(state.channel_id),
        None => RoomId::dm(state.channel_id),
    }
}

#[derive(Clone, Copy)]
enum Change {
    Joined,
    Left,
    Updated,
}

fn voice_event(state: VoiceState, change: Change) -> Event {
    let dm = state.community_id.is_none();
    let payload = VoiceStateChanged { state };
    match (dm, change) {
        (false, Change::Joined) => Event::VoiceChannelUserJoined(payload),
        (false, Change::Left) => Event::VoiceChannelUserLeft(payload),
        (false, Change::Updated) => Event::VoiceChannelUserUpdated(payload),
        (true, Change::Joined) => Event::DmVoiceUserJoined(payload),
        (true, Change::Left) => Event::DmVoiceUserLeft(payload),
        (true, Change::Updated) => Event::DmVoiceUserUpdated(payload),
    }
}

impl Chat {
    /// Tells a deleted channel's occupants' observers that they left it.
    pub(crate) async fn emit_voice_left(&self, left: Vec<VoiceState>) {
        for state in left {
            self.emit_voice(state, Change::Left).await;
        }
    }

    async fn emit_voice(&self, state: VoiceState, change: Change) {
        let room = voice_room(&state);
        self.emit(&room, voice_event(state, change)).await;
    }

    /// Joins a community voice channel (`VIEW_CHANNEL`) or a DM's call
    /// (participants), leaving any other voice channel first.
    pub async fn join_voice(
        &self,
        user: Id,
        channel_id: Id,
        muted: bool,
        deafened: bool,
    ) -> Result<VoiceState> {
        let (channel, _) = self.visible_channel(user, channel_id).await?;
        if channel.community_id.is_some() && channel.kind != ChannelKind::Voice {
            return Err(ChatError::invalid("not a voice channel"));
        }
        let call_was_empty = channel.community_id.is_none()
            && self
                .store
                .voice_states(channel_id)
                .await?
                .iter()
                .all(|s| s.user_id == user);
        let joined = self
            .store
            .voice_join(user, channel_id, channel.community_id, muted, deafened)
            .await?;
        if let Some(left) = joined.left {
            self.emit_voice(left, Change::Left).await;
        }
        if call_was_empty {
            self.emit(
                &RoomId::dm(channel_id),
                Event::DmVoiceCallStarted(DmVoiceCallStarted {
                    channel_id,
                    started_by: user,
                }),
            )
            .await;
        }
        self.emit_voice(joined.state.clone(), Change::Joined).await;
        Ok(joined.state)
    }

    /// Changes the caller's mute/deafen state; `NOT_FOUND` unless in voice.
    pub async fn update_voice(
        &self,
        user: Id,
        muted: Option<bool>,
        deafened: Option<bool>,
    ) -> Result<VoiceState> {
        let state = self
            .store
            .voice_update(user, muted, deafened)
            .await?
            .ok_or(ChatError::NotFound("voice state"))?;
        self.emit_voice(state.clone(), Change::Updated).await;
        Ok(state)
    }

    /// Leaves voice; returns whether the caller was in a channel.
    pub async fn leave_voice(&self, user: Id) -> Result<bool> {
        match self.store.voice_leave(user).await? {
            Some(state) => {
                self.emit_voice(state, Change::Left).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Who is in a voice channel or DM call the caller sees.
    pub async fn voice_states(&self, user: Id, channel_id: Id) -> Result<Vec<VoiceState>> {
        self.visible_channel(user, channel_id).await?;
        Ok(self.store.voice_states(channel_id).await?)
    }

    /// Leaves voice for `user` unless `still_connected` says they have a
    /// connection somewhere.
    pub async fn leave_voice_if_gone(&self, user: Id, still_connected: bool) -> Result<bool> {
        if still_connected {
            return Ok(false);
        }
        self.leave_voice(user).await
    }
}

/// Takes users out of voice when all their connections are gone for a
/// grace period. `connected` answers whether a user has a connection
/// anywhere in the cluster (e.g. the presence registry).
#[derive(Clone)]
pub struct VoiceReaper {
    chat: Chat,
    grace: Duration,
    connected: Arc<dyn Fn(Id) -> futures_bool::BoxBool + Send + Sync>,
}

/// A boxed future answering a yes/no question.
pub mod futures_bool {
    /// `Pin<Box<dyn Future<Output = bool> + Send>>`.
    pub type BoxBool = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;
}

impl std::fmt::Debug for VoiceReaper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceReaper")
            .field("grace", &self.grace)
            .finish()
    }
}

impl VoiceReaper {
    /// A reaper with a grace period and a connectivity check.
    pub fn new(
        chat: Chat,
        grace: Duration,
        connected: impl Fn(Id) -> futures_bool::BoxBool + Send + Sync + 'static,
    ) -> VoiceReaper {
        VoiceReaper {
            chat,
            grace,
            connected: Arc::new(connected),
        }
    }

    /// Called when one of `user`'s connections ends: after the grace
    /// period, if they have no connection left, they leave voice.
    pub fn connection_ended(&self, user: Id) {
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(this.grace).await;
            // Boxed so the task stays small while it sleeps: a disconnect
            // storm parks one of these per connection.
            Box::pin(async move {
                let still = (this.connected)(user).await;
                if let Err(err) = this.chat.leave_voice_if_gone(user, still).await {
                    tracing::warn!(%err, %user, "voice reaper failed");
                }
            })
            .await;
        });
    }
}
