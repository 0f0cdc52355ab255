-- The panel: users and sessions per tenant, tenant-owned playlists and assignments,
-- tenant-scoped audit, incident acknowledgement and notes.
-- depends: 0003_hub_metrics

ALTER TABLE tenants ADD CONSTRAINT tenants_id_slug CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{0,62}$');

CREATE TABLE users (
    user_id        bigserial PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    email          text NOT NULL UNIQUE CHECK (email = lower(email) AND email LIKE '%_@_%'),
    name           text NOT NULL,
    role           text NOT NULL CHECK (role IN ('admin', 'fleet_owner', 'agent', 'advertiser')),
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    disabled_at    timestamptz
);
CREATE INDEX users_tenant_idx ON users (tenant_id);

-- The fleets a fleet owner sees (admins see every fleet of their tenant).
CREATE TABLE user_fleets (
    user_id   bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    fleet_id  text NOT NULL REFERENCES fleets ON DELETE CASCADE,
    PRIMARY KEY (user_id, fleet_id)
);

-- Browser sessions: the cookie holds a random token, the store its SHA-256.
CREATE TABLE web_sessions (
    token_hash  text PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_id);

-- Playlists are content-addressed and shared; a tenant sees the ones in its library.
CREATE TABLE tenant_playlists (
    tenant_id    text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    playlist_id  text NOT NULL REFERENCES playlists ON DELETE CASCADE,
    name         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, playlist_id)
);
INSERT INTO tenant_playlists (tenant_id, playlist_id, name)
SELECT 'default', playlist_id, name FROM playlists;

ALTER TABLE playlist_assignments
    ADD COLUMN tenant_id text NOT NULL DEFAULT 'default' REFERENCES tenants ON DELETE CASCADE;
CREATE INDEX playlist_assignments_tenant_idx ON playlist_assignments (tenant_id, created_at DESC);

ALTER TABLE audit_log ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, at DESC);

ALTER TABLE incidents
    ADD COLUMN acked_at timestamptz,
    ADD COLUMN acked_by text;

CREATE TABLE incident_notes (
    note_id      bigserial PRIMARY KEY,
    incident_id  uuid NOT NULL REFERENCES incidents ON DELETE CASCADE,
    author       text NOT NULL,
    body         text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_notes_incident_idx ON incident_notes (incident_id, created_at);

-- The panel's change feed reads the tablets whose state changed since its watermark.
CREATE INDEX tablet_state_updated_idx ON tablet_state (updated_at);
