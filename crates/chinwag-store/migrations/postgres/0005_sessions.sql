-- A session is the chain of refresh tokens that one login starts: rotation
-- keeps its id, and access tokens name it (`sid`), so revoking a refresh
-- token can close the session's live connections. Tokens stored before
-- this migration each become a session of their own.
ALTER TABLE refresh_tokens ADD COLUMN session_id BIGINT;
UPDATE refresh_tokens SET session_id = floor(random() * 9e18)::bigint WHERE session_id IS NULL;
