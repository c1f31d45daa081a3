//! Read receipts.

use serde::{Deserialize, Serialize};

use crate::model::ReadState;

/// `READ_RECEIPT_UPDATED`: sent to the reader's own `user:` room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReceiptUpdated {
    /// The new read state.
    pub read_state: ReadState,
}
