-- A channel's pins (`Store::pinned_messages`) and the count that caps them
-- (`Store::pin_message`) read this index instead of the channel's history.
CREATE INDEX messages_pinned ON messages (channel_id, pinned_at) WHERE pinned = TRUE AND deleted = FALSE;
