-- Voice presence as shared state: one row per user who ever joined voice.
-- `channel_id` is NULL while the user is in no voice channel or DM call;
-- `version` grows on every join, update and leave.
CREATE TABLE voice_states (
    user_id      BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    channel_id   BIGINT  REFERENCES channels (id) ON DELETE SET NULL,
    community_id BIGINT,
    muted        BOOLEAN NOT NULL DEFAULT FALSE,
    deafened     BOOLEAN NOT NULL DEFAULT FALSE,
    joined_at    BIGINT  NOT NULL,
    version      BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX voice_states_channel ON voice_states (channel_id);
