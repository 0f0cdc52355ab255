-- Device operations (issue 13): health incidents beyond offline with per-fleet thresholds.
-- depends: 0023_billing

-- Health incidents (actors/rules/health.py), each with what the tablet reported.
ALTER TABLE incidents DROP CONSTRAINT incidents_kind_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_kind_check
    CHECK (kind IN ('offline', 'flapping', 'download_failed', 'low_storage', 'crash_loop',
                    'playback_stuck', 'not_charging', 'clock_skew', 'app_outdated'));
ALTER TABLE incidents ADD COLUMN detail text CHECK (length(detail) <= 1024);

-- A fleet's overrides of the default health policy (settings FLEETHUB_HEALTH_*): only the
-- thresholds it changed, validated by config/health.py.
ALTER TABLE fleets ADD COLUMN health_policy jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(health_policy) = 'object');

-- Alert channels (hub/notify/): a user's subscriptions, each one channel and address with
-- its filters; every incident event (a notifications row) is fanned out once into one
-- delivery per matching subscription; deliveries are sent as messages (one per event, or a
-- digest of many), each attempt logged.
ALTER TABLE notifications ADD COLUMN fanned_out boolean NOT NULL DEFAULT true;
ALTER TABLE notifications ALTER COLUMN fanned_out SET DEFAULT false;  -- older rows: done
CREATE INDEX notifications_fanout_idx ON notifications (notification_id) WHERE NOT fanned_out;

CREATE TABLE alert_subscriptions (
    subscription_id  bigserial PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    user_id          bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    channel          text NOT NULL CHECK (channel IN ('email', 'webhook', 'telegram')),
    target           text NOT NULL CHECK (length(target) BETWEEN 1 AND 2048),
    secret           text CHECK (length(secret) <= 256),  -- a webhook's signing key
    fleets           text[] NOT NULL DEFAULT '{}',  -- none: every fleet the user sees
    kinds            text[] NOT NULL DEFAULT '{}',  -- none: every incident kind
    quiet_from       time,  -- in the user's zone (timezone); held until quiet_until
    quiet_until      time,
    timezone         text NOT NULL DEFAULT 'UTC' CHECK (length(timezone) BETWEEN 1 AND 64),
    digest_s         integer NOT NULL DEFAULT 0 CHECK (digest_s BETWEEN 0 AND 86400),
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_from IS NULL) = (quiet_until IS NULL))
);
CREATE INDEX alert_subscriptions_tenant_idx ON alert_subscriptions (tenant_id);

CREATE TABLE alert_messages (
    message_id       bigserial PRIMARY KEY,
    subscription_id  bigint NOT NULL REFERENCES alert_subscriptions ON DELETE CASCADE,
    channel          text NOT NULL,
    status           text NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent', 'failed')),
    subject          text NOT NULL,
    events           integer NOT NULL,
    tablets          integer NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    last_code        integer,  -- the last HTTP status or SMTP reply code
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    done_at          timestamptz
);
CREATE INDEX alert_messages_subscription_idx ON alert_messages (subscription_id, message_id DESC);
CREATE INDEX alert_messages_sending_idx ON alert_messages (created_at) WHERE status = 'sending';

CREATE TABLE alert_deliveries (
    subscription_id  bigint NOT NULL REFERENCES alert_subscriptions ON DELETE CASCADE,
    notification_id  bigint NOT NULL REFERENCES notifications ON DELETE CASCADE,
    due_at           timestamptz NOT NULL,  -- after the digest window and quiet hours
    message_id       bigint REFERENCES alert_messages ON DELETE SET NULL,
    PRIMARY KEY (subscription_id, notification_id)
);
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (due_at) WHERE message_id IS NULL;

CREATE TABLE alert_attempts (
    message_id  bigint NOT NULL REFERENCES alert_messages ON DELETE CASCADE,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    ok          boolean NOT NULL,
    code        integer,
    error       text,
    PRIMARY KEY (message_id, attempt)
);

-- Remote commands (docs/device-ops.md): one row per command, one per target tablet with its
-- state (queued → delivered → succeeded / failed / expired); sent_at: published to the
-- tablet's persistent session (a restarted hub does not send it again).
CREATE TABLE commands (
    command_id    uuid PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    name          text NOT NULL CHECK (name IN ('reboot', 'restart_app', 'screenshot',
                    'refresh_manifest', 'clear_cache', 'set_volume', 'set_brightness',
                    'update_app')),
    args          jsonb NOT NULL DEFAULT '{}',
    target        text NOT NULL CHECK (length(target) <= 300),  -- what was asked: fleet:…, …
    issued_by     text NOT NULL,
    issued_at     timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    rollout_id    bigint,
    finished_at   timestamptz,  -- every target final: audited with its counts (command.done)
    CHECK (expires_at > issued_at)
);
CREATE INDEX commands_unfinished_idx ON commands (issued_at) WHERE finished_at IS NULL;
CREATE INDEX commands_tenant_idx ON commands (tenant_id, issued_at DESC);

CREATE TABLE command_targets (
    command_id    uuid NOT NULL REFERENCES commands ON DELETE CASCADE,
    tablet_id     text NOT NULL REFERENCES tablets ON DELETE CASCADE,
    state         text NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'delivered', 'succeeded', 'failed', 'expired')),
    sent_at       timestamptz,
    delivered_at  timestamptz,
    done_at       timestamptz,
    detail        text CHECK (length(detail) <= 1024),
    PRIMARY KEY (command_id, tablet_id)
);
CREATE INDEX command_targets_open_idx ON command_targets (tablet_id)
    WHERE state IN ('queued', 'delivered');
CREATE INDEX command_targets_tablet_idx ON command_targets (tablet_id, command_id);

-- The commands a tenant's fleet owners may send (admins may send every one). No row: the
-- defaults of store/commands.py.
CREATE TABLE command_roles (
    tenant_id   text PRIMARY KEY REFERENCES tenants ON DELETE CASCADE,
    fleet_owner text[] NOT NULL,
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Screenshots uploaded by tablets (one per screenshot command and tablet: the upload URL is
-- single-use), kept in the media blob store under their SHA-256.
CREATE TABLE screenshots (
    command_id    uuid NOT NULL,
    tablet_id     text NOT NULL REFERENCES tablets ON DELETE CASCADE,
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type  text NOT NULL,
    bytes         integer NOT NULL CHECK (bytes > 0),
    width         integer NOT NULL,
    height        integer NOT NULL,
    taken_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (command_id, tablet_id),
    FOREIGN KEY (command_id, tablet_id) REFERENCES command_targets ON DELETE CASCADE
);
CREATE INDEX screenshots_tablet_idx ON screenshots (tablet_id, taken_at DESC);

-- Staged app rollouts (docs/device-ops.md): a fleet's app version rolled out in waves (the
-- cumulative percentages of its tablets); each wave's tablets get an update_app command; a
-- wave advances after its soak only while its crash-loop and offline rates stay within the
-- thresholds (percentage points above the rest of the fleet), else the rollout halts.
CREATE TABLE rollouts (
    rollout_id        bigserial PRIMARY KEY,
    tenant_id         text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    fleet_id          text NOT NULL REFERENCES fleets ON DELETE CASCADE,
    app_version       text NOT NULL CHECK (length(app_version) BETWEEN 1 AND 64),
    package_url       text NOT NULL CHECK (length(package_url) BETWEEN 1 AND 2048),
    sha256            text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    waves             smallint[] NOT NULL CHECK (cardinality(waves) BETWEEN 1 AND 10),
    soak_s            integer NOT NULL CHECK (soak_s BETWEEN 60 AND 7 * 86400),
    crash_excess_pct  real NOT NULL CHECK (crash_excess_pct BETWEEN 0 AND 100),
    offline_excess_pct real NOT NULL CHECK (offline_excess_pct BETWEEN 0 AND 100),
    state             text NOT NULL DEFAULT 'running'
                      CHECK (state IN ('running', 'halted', 'done', 'cancelled')),
    wave              smallint NOT NULL DEFAULT 0,  -- the current wave (index into waves)
    wave_started_at   timestamptz NOT NULL DEFAULT now(),
    reason            text CHECK (length(reason) <= 1024),  -- why it halted
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz
);
CREATE INDEX rollouts_tenant_idx ON rollouts (tenant_id, created_at DESC);
CREATE UNIQUE INDEX rollouts_one_running_idx ON rollouts (fleet_id)
    WHERE state IN ('running', 'halted');

CREATE TABLE rollout_tablets (
    rollout_id  bigint NOT NULL REFERENCES rollouts ON DELETE CASCADE,
    tablet_id   text NOT NULL REFERENCES tablets ON DELETE CASCADE,
    wave        smallint NOT NULL,
    command_id  uuid NOT NULL REFERENCES commands ON DELETE CASCADE,
    PRIMARY KEY (rollout_id, tablet_id)
);
ALTER TABLE commands ADD FOREIGN KEY (rollout_id) REFERENCES rollouts ON DELETE SET NULL;
