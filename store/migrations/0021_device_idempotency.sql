-- Idempotency-Key on the device API's POSTs (docs/mqtt-contract.md, "HTTP fallback"; issue
-- 17): the first answer to a key, replayed for a retry of the same request within 24 h.
-- scope: the tablet and route ("tablet:{id}:heartbeat"), or the claim code's hash; answer
-- NULL while the first request is in progress. A claim's answer holds its secrets sealed
-- with a key derived from the claim code and the Idempotency-Key, which are not stored.
-- depends: 0020_boot_window

CREATE TABLE device_idempotency (
    scope        text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    status       smallint,
    answer       bytea,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX device_idempotency_expiry ON device_idempotency (expires_at);
