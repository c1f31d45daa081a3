-- Chinwag schema (SQLite; foreign keys are enforced by the connection pragma). Ids are application-generated snowflakes;
-- timestamps are unix milliseconds; `version` columns grow by one per change.

CREATE TABLE users (
    id            BIGINT PRIMARY KEY,
    username      TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    avatar_url    TEXT,
    bio           TEXT,
    bot           BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT,
    created_at    BIGINT  NOT NULL,
    version       BIGINT  NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));

CREATE TABLE refresh_tokens (
    token_hash TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE communities (
    id                 BIGINT PRIMARY KEY,
    name               TEXT   NOT NULL,
    description        TEXT,
    icon_url           TEXT,
    owner_id           BIGINT NOT NULL REFERENCES users (id),
    created_at         BIGINT NOT NULL,
    version            BIGINT NOT NULL DEFAULT 1,
    permission_version BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE roles (
    id           BIGINT PRIMARY KEY,
    community_id BIGINT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    permissions  BIGINT NOT NULL,
    position     BIGINT NOT NULL,
    color        BIGINT,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX roles_community ON roles (community_id, position);

CREATE TABLE members (
    community_id    BIGINT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    nickname        TEXT,
    joined_at       BIGINT NOT NULL,
    timed_out_until BIGINT,
    PRIMARY KEY (community_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE member_roles (
    community_id BIGINT NOT NULL,
    user_id      BIGINT NOT NULL,
    role_id      BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (community_id, user_id, role_id),
    FOREIGN KEY (community_id, user_id) REFERENCES members (community_id, user_id) ON DELETE CASCADE
);
CREATE INDEX member_roles_role ON member_roles (role_id);

CREATE TABLE bans (
    community_id BIGINT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    actor_id     BIGINT NOT NULL REFERENCES users (id),
    reason       TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);

CREATE TABLE channels (
    id           BIGINT  PRIMARY KEY,
    community_id BIGINT  REFERENCES communities (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    topic        TEXT,
    position     BIGINT  NOT NULL DEFAULT 0,
    private      BOOLEAN NOT NULL DEFAULT FALSE,
    dm_key       TEXT    UNIQUE,
    created_at   BIGINT  NOT NULL,
    version      BIGINT  NOT NULL DEFAULT 1
);
CREATE INDEX channels_community ON channels (community_id, position);

CREATE TABLE channel_recipients (
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX channel_recipients_user ON channel_recipients (user_id);

CREATE TABLE private_channel_members (
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX private_channel_members_user ON private_channel_members (user_id);

CREATE TABLE channel_overrides (
    channel_id  BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    target_kind TEXT   NOT NULL,
    target_id   BIGINT NOT NULL,
    allow_bits  BIGINT NOT NULL,
    deny_bits   BIGINT NOT NULL,
    PRIMARY KEY (channel_id, target_kind, target_id)
);

CREATE TABLE invites (
    code         TEXT   PRIMARY KEY,
    community_id BIGINT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    creator_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at   BIGINT,
    max_uses     BIGINT,
    uses         BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);
CREATE INDEX invites_community ON invites (community_id);

CREATE TABLE messages (
    id               BIGINT  PRIMARY KEY,
    channel_id       BIGINT  NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    community_id     BIGINT,
    author_id        BIGINT  NOT NULL REFERENCES users (id),
    content          TEXT    NOT NULL,
    thread_parent_id BIGINT  REFERENCES messages (id) ON DELETE CASCADE,
    reply_count      BIGINT  NOT NULL DEFAULT 0,
    pinned           BOOLEAN NOT NULL DEFAULT FALSE,
    pinned_at        BIGINT,
    deleted          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT  NOT NULL,
    edited_at        BIGINT,
    version          BIGINT  NOT NULL DEFAULT 1
);
CREATE INDEX messages_channel ON messages (channel_id, id);
CREATE INDEX messages_thread ON messages (thread_parent_id, id);

CREATE TABLE message_mentions (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_mentions_user ON message_mentions (user_id, message_id);

CREATE TABLE reactions (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji      TEXT   NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);

CREATE TABLE read_states (
    user_id              BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel_id           BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    last_read_message_id BIGINT,
    version              BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (user_id, channel_id)
);

CREATE TABLE notifications (
    id           BIGINT  PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    actor_id     BIGINT  NOT NULL,
    channel_id   BIGINT  NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    community_id BIGINT,
    message_id   BIGINT  NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    excerpt      TEXT    NOT NULL,
    read         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_id, id);
