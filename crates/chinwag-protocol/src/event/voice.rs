//! Voice presence events.

use serde::{Deserialize, Serialize};

use crate::Id;
use crate::model::VoiceState;

/// `VOICE_CHANNEL_USER_*` and `DM_VOICE_USER_*`: the user's voice state
/// (after leaving, the last state it had, with the new version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceStateChanged {
    /// The state.
    pub state: VoiceState,
}

/// `DM_VOICE_CALL_STARTED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmVoiceCallStarted {
    /// DM channel id.
    pub channel_id: Id,
    /// Who started the call.
    pub started_by: Id,
}
