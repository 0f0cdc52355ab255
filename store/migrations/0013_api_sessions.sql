-- A bearer token (POST /api/v1/auth/token) is bound to a session of its own: the JWT names
-- it, every API request checks it, and it ends with that session (sign-out, password reset,
-- expiry). Browser cookies only ever find 'browser' sessions, bearer tokens only 'api' ones.
-- depends: 0004_panel

ALTER TABLE web_sessions
    ADD COLUMN kind text NOT NULL DEFAULT 'browser' CHECK (kind IN ('browser', 'api'));
