-- A panel user's own page (/profile): the time zone they want times shown in, and their
-- personal API tokens (a bearer token for scripts, stored as its SHA-256, shown once).
-- depends: 0017_lead_reoffer

CREATE TABLE user_settings (
    user_id   bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    timezone  text CHECK (timezone IS NULL OR length(timezone) BETWEEN 1 AND 64)
);

CREATE TABLE api_tokens (
    token_id      bigserial PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash    text NOT NULL UNIQUE,
    hint          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, created_at DESC);
