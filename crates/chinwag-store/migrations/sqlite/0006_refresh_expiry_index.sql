-- Refresh tokens are deleted once expired for longer than an access token
-- lives (`Store::prune_refresh_tokens`, run by every node each hour); this
-- index finds them without scanning the table.
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
