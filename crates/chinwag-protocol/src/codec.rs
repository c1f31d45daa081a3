//! Encoding frames as JSON (text frames, the default) or MessagePack
//! (binary frames, negotiated with `?encoding=msgpack`).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ClientFrame;

/// A connection's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// JSON in WebSocket text frames.
    #[default]
    Json,
    /// MessagePack (maps with field names) in binary frames.
    MsgPack,
}

/// Why bytes could not be turned into a frame, or a frame into bytes.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The command's `op` is not one the server knows.
    #[error("unknown op `{0}`")]
    UnknownOp(String),
    /// The bytes are not a valid frame.
    #[error("invalid frame: {0}")]
    Invalid(String),
}

impl Encoding {
    /// Parses the `encoding` query parameter (`json` or `msgpack`).
    pub fn from_param(value: &str) -> Option<Encoding> {
        match value {
            "json" => Some(Encoding::Json),
            "msgpack" => Some(Encoding::MsgPack),
            _ => None,
        }
    }

    /// Encodes a value.
    pub fn encode<T: Serialize>(self, value: &T) -> Result<Vec<u8>, CodecError> {
        match self {
            Encoding::Json => {
                serde_json::to_vec(value).map_err(|e| CodecError::Invalid(e.to_string()))
            }
            Encoding::MsgPack => {
                rmp_serde::to_vec_named(value).map_err(|e| CodecError::Invalid(e.to_string()))
            }
        }
    }

    /// Decodes a value.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, CodecError> {
        match self {
            Encoding::Json => {
                serde_json::from_slice(bytes).map_err(|e| CodecError::Invalid(e.to_string()))
            }
            Encoding::MsgPack => {
                rmp_serde::from_slice(bytes).map_err(|e| CodecError::Invalid(e.to_string()))
            }
        }
    }

    /// Decodes a client command, telling an unknown `op` apart from a
    /// malformed frame.
    pub fn decode_command(self, bytes: &[u8]) -> Result<ClientFrame, CodecError> {
        self.decode::<ClientFrame>(bytes).map_err(|err| {
            #[derive(serde::Deserialize)]
            struct OpOnly {
                op: String,
            }
            match self.decode::<OpOnly>(bytes) {
                Ok(OpOnly { op }) if !ClientFrame::OPS.contains(&op.as_str()) => {
                    CodecError::UnknownOp(op)
                }
                _ => err,
            }
        })
    }
}
