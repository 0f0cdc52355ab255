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
