-- Panel user management (issue 11): one-time set-password links. An admin invites a user
-- (or resets one) and hands over the link; the store keeps only the token's SHA-256. A link
-- works once and expires; a newer link of the same user ends the older ones.
-- depends: 0014_rate_limits

CREATE TABLE user_links (
    token_hash  text PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX user_links_user_idx ON user_links (user_id);
