-- When a refresh token was rotated away (as opposed to revoked by logout):
-- presenting it again means it leaked, and every session of its user is
-- signed out (Store::revoke_on_reuse).
ALTER TABLE refresh_tokens ADD COLUMN rotated_at BIGINT;
