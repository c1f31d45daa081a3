//! Voice presence as state (no media): join, update mute/deafen, and leave
//! a community voice channel (`VOICE_CHANNEL_USER_*` to `channel:{id}`)
//! or a DM call (`DM_VOICE_USER_*` to `dm:{id}`, and
//! `DM_VOICE_CALL_STARTED` when the first participant joins). The state
//! lives in the store, so every node sees the same; each change carries
//! the user's voice version.
//!
//! A user whose connections all drop leaves voice when presence declares
//! them offline, after its grace period (the server's presence hook calls
//! [`Chat::leave_voice`]).

use chinwag_protocol::event::voice::{DmVoiceCallStarted, VoiceStateChanged};
use chinwag_protocol::model::{ChannelKind, VoiceState};
use chinwag_protocol::{Event, Id};
use chinwag_realtime::engine::PresenceOp;
use chinwag_realtime::{Engine as _, RoomId};

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
    /// (participants), leaving any other voice channel first. The user
    /// must have a connection to the event stream: voice ends when their
    /// last connection does, so a state with none would never end.
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
        if self
            .hub
            .engine()
            .presence(user, PresenceOp::Peek)
            .await?
            .connections
            == 0
        {
            return Err(ChatError::Conflict(
                "connect to the event stream before joining voice".into(),
            ));
        }
        // A DM call starts with the join that finds nobody in it, the
        // joiner included (the store decides, on every node at once); the
        // channel's turn keeps this node's joins emitting in their order.
        let _turn = match channel.community_id {
            None => Some(self.channel_writes.lock(channel_id).await),
            Some(_) => None,
        };
        let joined = self
            .store
            .voice_join(user, channel_id, channel.community_id, muted, deafened)
            .await?;
        if let Some(left) = joined.left {
            self.emit_voice(left, Change::Left).await;
        }
        if joined.call_started {
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
        self.leave_voice_where(user, |_| true).await
    }

    /// Takes `user` out of voice if their current voice state matches
    /// `lost` (a community they left, a channel they can no longer see).
    /// Failures are logged: the caller's change has already happened.
    pub(crate) async fn leave_voice_if(&self, user: Id, lost: impl Fn(&VoiceState) -> bool) {
        if let Err(err) = self.leave_voice_where(user, lost).await {
            tracing::warn!(%err, %user, "leaving voice after losing access failed");
        }
    }

    /// Leaves voice when the current state matches `leaves`, and tells
    /// the channel's observers; whether it left.
    async fn leave_voice_where(
        &self,
        user: Id,
        leaves: impl Fn(&VoiceState) -> bool,
    ) -> Result<bool> {
        match self.store.voice_leave_if(user, leaves).await? {
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
}
