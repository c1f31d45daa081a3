-- A starting node reads the sessions signed out within a token lifetime
-- (`Store::signed_out_sessions`): the tokens revoked without rotation, by
-- when. Without this index that read scans every refresh token ever issued.
CREATE INDEX refresh_tokens_signed_out ON refresh_tokens (revoked_at)
    WHERE rotated_at IS NULL AND revoked_at IS NOT NULL;
