-- Device tokens for the HTTP device API (/v1/device/...): the tablet keeps the token, the
-- store only its SHA-256 (hex). A tablet may hold several (rotation); revoking ends them all.
-- depends: 0006_plays

CREATE TABLE device_tokens (
    token_hash  text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    tablet_id   text NOT NULL REFERENCES tablets ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX device_tokens_tablet_idx ON device_tokens (tablet_id) WHERE revoked_at IS NULL;
