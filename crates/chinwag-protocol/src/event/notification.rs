//! Notification events (sent to the recipient's `user:` room).

use serde::{Deserialize, Serialize};

use crate::Id;
use crate::model::Notification;

/// `NEW_NOTIFICATION`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewNotification {
    /// The notification.
    pub notification: Notification,
}

/// `NOTIFICATION_READ`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRead {
    /// The notifications now read.
    pub notification_ids: Vec<Id>,
}
