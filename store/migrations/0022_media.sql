-- The media library (issue 12): files stored once by content (media_blobs, the blob store's
-- sha256/… keys), each tenant's media and their versions, playlist items pinned to a media
-- version, advertisers' campaigns, each tablet's content readiness, and the
-- download_failed incident.
-- depends: 0021_device_idempotency

CREATE TABLE media_blobs (
    sha256        text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes         bigint NOT NULL CHECK (bytes > 0),
    content_type  text NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE media (
    tenant_id          text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    media_id           text NOT NULL CHECK (media_id ~ '^m-[0-9a-f]{16}$'),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind               text NOT NULL CHECK (kind IN ('video', 'image')),
    tags               text[] NOT NULL DEFAULT '{}',
    campaign_id        text CHECK (length(campaign_id) BETWEEN 1 AND 128),
    version            integer NOT NULL DEFAULT 1 CHECK (version >= 1),  -- the current one
    -- How long an image shows in a playlist (videos: their own duration).
    image_duration_ms  integer NOT NULL DEFAULT 10000
                       CHECK (image_duration_ms BETWEEN 1000 AND 3600000),
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, media_id)
);
CREATE INDEX media_tenant_idx ON media (tenant_id, created_at DESC);

CREATE TABLE media_versions (
    tenant_id     text NOT NULL,
    media_id      text NOT NULL,
    version       integer NOT NULL CHECK (version >= 1),
    sha256        text NOT NULL REFERENCES media_blobs,
    bytes         bigint NOT NULL CHECK (bytes > 0),
    content_type  text NOT NULL,
    codec         text NOT NULL,
    width         integer NOT NULL CHECK (width > 0),
    height        integer NOT NULL CHECK (height > 0),
    duration_ms   integer CHECK (duration_ms > 0),  -- videos only
    uploaded_by   text NOT NULL,
    uploaded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, media_id, version),
    FOREIGN KEY (tenant_id, media_id) REFERENCES media ON DELETE CASCADE
);
CREATE INDEX media_versions_sha_idx ON media_versions (sha256, tenant_id);

-- A playlist item from the library names the media version it was published with; the
-- version cannot be deleted while a playlist holds it (retention never collects it).
ALTER TABLE playlist_items
    ADD COLUMN media_id text,
    ADD COLUMN media_version integer,
    ADD CHECK ((media_id IS NULL) = (media_version IS NULL)),
    ADD FOREIGN KEY (tenant_id, media_id, media_version) REFERENCES media_versions;
CREATE INDEX playlist_items_media_idx ON playlist_items (tenant_id, media_id)
    WHERE media_id IS NOT NULL;

-- The campaigns an advertiser may upload media for (the campaign model is issue 13's).
CREATE TABLE user_campaigns (
    user_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    campaign_id  text NOT NULL CHECK (length(campaign_id) BETWEEN 1 AND 128),
    PRIMARY KEY (user_id, campaign_id)
);

-- Each tablet's content readiness for its desired manifest, kept by its actor from the
-- tablet's cache reports (tablets/{id}/media/status) and written by the hub's writer.
CREATE TABLE tablet_media (
    tablet_id    text PRIMARY KEY REFERENCES tablets ON DELETE CASCADE,
    playlist_id  text,
    etag         text,
    total        integer NOT NULL CHECK (total >= 0),
    ready        integer NOT NULL CHECK (ready >= 0),
    downloading  integer NOT NULL CHECK (downloading >= 0),
    failed       integer NOT NULL CHECK (failed >= 0),
    bytes_done   bigint NOT NULL CHECK (bytes_done >= 0),
    bytes_total  bigint NOT NULL CHECK (bytes_total >= 0),
    detail       text,
    reported_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE incidents DROP CONSTRAINT incidents_kind_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_kind_check
    CHECK (kind IN ('offline', 'flapping', 'download_failed'));
