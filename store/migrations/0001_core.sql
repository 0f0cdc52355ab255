-- fleethub core schema: tenancy, fleet, tablets, playlists, incidents, audit.
-- depends:

CREATE TABLE tenants (
    tenant_id   text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO tenants (tenant_id, name) VALUES ('default', 'Default tenant');

CREATE TABLE fleets (
    fleet_id         text PRIMARY KEY CHECK (fleet_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    tenant_id        text NOT NULL REFERENCES tenants ON DELETE RESTRICT DEFAULT 'default',
    name             text NOT NULL,
    timezone         text NOT NULL DEFAULT 'UTC',
    operating_hours  text NOT NULL DEFAULT '',
    alert_after_s    integer NOT NULL DEFAULT 300 CHECK (alert_after_s > 0),
    flap_limit       integer NOT NULL DEFAULT 6 CHECK (flap_limit > 0),
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cars (
    car_id      text PRIMARY KEY,
    fleet_id    text NOT NULL REFERENCES fleets ON DELETE RESTRICT,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tablets (
    tablet_id             text PRIMARY KEY CHECK (tablet_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    fleet_id              text NOT NULL REFERENCES fleets ON DELETE RESTRICT,
    car_id                text REFERENCES cars ON DELETE SET NULL,
    heartbeat_interval_s  integer NOT NULL DEFAULT 60 CHECK (heartbeat_interval_s > 0),
    offline_after_s       integer NOT NULL CHECK (offline_after_s > 0),
    registered_at         timestamptz NOT NULL DEFAULT now(),
    revoked_at            timestamptz
);
CREATE INDEX tablets_fleet_idx ON tablets (fleet_id);
CREATE INDEX tablets_car_idx ON tablets (car_id);

-- Current state of each tablet, written by the hub's one writer.
CREATE TABLE tablet_state (
    tablet_id          text PRIMARY KEY REFERENCES tablets ON DELETE CASCADE,
    state              text NOT NULL DEFAULT 'unknown'
                       CHECK (state IN ('unknown', 'online', 'offline')),
    state_since        timestamptz,
    last_heartbeat_at  timestamptz,
    boot_id            text,
    last_seq           bigint,
    desired_etag       text,
    applied_etag       text,
    uptime_until       timestamptz,
    open_incident_id   uuid,
    battery            smallint,
    app_version        text,
    ad_id              text,
    campaign_id        text,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE uptime_hourly (
    tablet_id       text NOT NULL,
    hour            timestamptz NOT NULL,
    online_seconds  double precision NOT NULL CHECK (online_seconds >= 0),
    PRIMARY KEY (tablet_id, hour)
);
CREATE INDEX uptime_hourly_hour_idx ON uptime_hourly (hour);

CREATE TABLE playlists (
    playlist_id  text PRIMARY KEY,
    version      integer NOT NULL DEFAULT 1,
    name         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE playlist_items (
    playlist_id  text NOT NULL REFERENCES playlists ON DELETE CASCADE,
    position     integer NOT NULL CHECK (position >= 0),
    ad_id        text NOT NULL,
    campaign_id  text NOT NULL,
    url          text NOT NULL,
    sha256       text NOT NULL,
    duration_ms  integer NOT NULL CHECK (duration_ms > 0),
    PRIMARY KEY (playlist_id, position)
);

CREATE TABLE playlist_assignments (
    assignment_id  bigserial PRIMARY KEY,
    playlist_id    text NOT NULL REFERENCES playlists,
    target_kind    text NOT NULL CHECK (target_kind IN ('tablet', 'car', 'fleet', 'all')),
    target_id      text,
    priority       text NOT NULL CHECK (priority IN ('normal', 'emergency')),
    valid_from     timestamptz NOT NULL DEFAULT now(),
    valid_until    timestamptz,
    reason         text,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    CHECK ((target_kind = 'all') = (target_id IS NULL)),
    CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX playlist_assignments_active_idx
    ON playlist_assignments (target_kind, target_id) WHERE revoked_at IS NULL;

CREATE TABLE deliveries (
    tablet_id     text NOT NULL REFERENCES tablets ON DELETE CASCADE,
    etag          text NOT NULL,
    status        text NOT NULL CHECK (status IN ('published', 'applied', 'failed')),
    published_at  timestamptz NOT NULL,
    acked_at      timestamptz,
    detail        text,
    PRIMARY KEY (tablet_id, etag)
);

CREATE TABLE incidents (
    incident_id    uuid PRIMARY KEY,
    tablet_id      text NOT NULL REFERENCES tablets ON DELETE CASCADE,
    fleet_id       text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('offline', 'flapping')),
    opened_at      timestamptz NOT NULL,
    offline_since  timestamptz,
    resolved_at    timestamptz
);
CREATE INDEX incidents_open_idx ON incidents (tablet_id) WHERE resolved_at IS NULL;
CREATE INDEX incidents_fleet_idx ON incidents (fleet_id, opened_at DESC);

CREATE TABLE notifications (
    notification_id  bigserial PRIMARY KEY,
    fleet_id         text NOT NULL,
    tablet_id        text,
    kind             text NOT NULL,
    payload          jsonb NOT NULL,
    dedupe_key       text NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_fleet_idx ON notifications (fleet_id, created_at DESC);

CREATE TABLE audit_log (
    audit_id    bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    target      text,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
