-- Claim codes: how a new tablet pairs itself (POST /v1/device/pairing/claim). An admin or
-- fleet owner creates a code for a fleet; the store keeps only its SHA-256 (hex) and the
-- last two characters to tell codes apart in lists. A code is used once, then records
-- the tablet it created.
-- depends: 0007_device_tokens

CREATE TABLE claim_codes (
    code_hash    text PRIMARY KEY CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    code_hint    text NOT NULL,
    tenant_id    text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    fleet_id     text NOT NULL REFERENCES fleets ON DELETE CASCADE,
    car_id       text,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    claimed_at   timestamptz,
    tablet_id    text REFERENCES tablets ON DELETE SET NULL,
    device_info  jsonb,
    CHECK (expires_at > created_at)
);
CREATE INDEX claim_codes_fleet_idx ON claim_codes (fleet_id, created_at DESC);
