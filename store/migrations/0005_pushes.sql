-- The panel's emergency pushes: one row per push, grouping the assignments it created
-- (one per target), with the manifest etag its progress is measured against.
-- depends: 0004_panel

CREATE TABLE pushes (
    push_id         uuid PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    playlist_id     text NOT NULL REFERENCES playlists,
    etag            text NOT NULL,
    targets         text[] NOT NULL CHECK (cardinality(targets) > 0),
    assignment_ids  bigint[] NOT NULL,
    targeted        integer NOT NULL CHECK (targeted >= 0),
    expires_at      timestamptz NOT NULL,
    reverted_at     timestamptz,
    reverted_by     text
);
CREATE INDEX pushes_tenant_idx ON pushes (tenant_id, created_at DESC);
