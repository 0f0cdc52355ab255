-- Campaigns for advertisers (issue 14, docs/campaigns.md): advertiser accounts and the
-- advertiser users of each, named zones (GeoJSON polygons), campaigns with their flight, goals,
-- creatives (media versions of the library) and targeting (fleets, dayparts, zones, share of
-- voice), their pacing, and proof of play attributed to them: the zone a play happened in,
-- whether it was outside the campaign's targeting, its H3 cell, and the campaign's delivery
-- rollups (per local hour and tablet, per local day and H3 cell).
-- depends: 0023_billing

CREATE TABLE advertisers (
    tenant_id      text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    advertiser_id  text NOT NULL CHECK (advertiser_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, advertiser_id)
);

-- The account an advertiser user acts for (one each): they see that account's campaigns.
CREATE TABLE user_advertisers (
    user_id        bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    tenant_id      text NOT NULL,
    advertiser_id  text NOT NULL,
    FOREIGN KEY (tenant_id, advertiser_id) REFERENCES advertisers ON DELETE CASCADE
);
CREATE INDEX user_advertisers_account_idx ON user_advertisers (tenant_id, advertiser_id);

-- Named polygons (WGS84), reusable across a tenant's campaigns. geometry holds the GeoJSON
-- Polygon or MultiPolygon as validated (actors/rules/geo.py); version moves with each change.
CREATE TABLE zones (
    tenant_id   text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    zone_id     text NOT NULL CHECK (zone_id ~ '^z-[0-9a-f]{12}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    geometry    jsonb NOT NULL,
    vertices    integer NOT NULL CHECK (vertices >= 4),
    area_km2    double precision NOT NULL CHECK (area_km2 >= 0),
    source      text NOT NULL CHECK (source IN ('upload', 'drawn', 'example')),
    version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, zone_id),
    UNIQUE (tenant_id, name)
);

-- A campaign id is the campaign_id tablets report in proof of play (and rate cards price).
CREATE TABLE campaigns (
    tenant_id       text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    campaign_id     text NOT NULL CHECK (campaign_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    advertiser_id   text NOT NULL,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    brand           text NOT NULL DEFAULT '' CHECK (length(brand) <= 200),
    timezone        text NOT NULL CHECK (length(timezone) BETWEEN 1 AND 64),
    flight_start    timestamptz NOT NULL,
    flight_end      timestamptz NOT NULL,
    goal_unit       text NOT NULL DEFAULT 'plays' CHECK (goal_unit IN ('plays', 'seconds')),
    daily_goal      bigint CHECK (daily_goal > 0),
    total_goal      bigint CHECK (total_goal > 0),
    priority        smallint NOT NULL DEFAULT 1 CHECK (priority BETWEEN 1 AND 10),
    share_of_voice  smallint CHECK (share_of_voice BETWEEN 1 AND 90),
    all_fleets      boolean NOT NULL DEFAULT true,
    status          text NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'approved', 'running', 'paused', 'finished')),
    status_at       timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, campaign_id),
    FOREIGN KEY (tenant_id, advertiser_id) REFERENCES advertisers ON DELETE RESTRICT,
    CHECK (flight_end > flight_start)
);
CREATE INDEX campaigns_advertiser_idx ON campaigns (tenant_id, advertiser_id);
CREATE INDEX campaigns_live_idx ON campaigns (status) WHERE status IN ('approved', 'running');

CREATE TABLE campaign_fleets (
    tenant_id    text NOT NULL,
    campaign_id  text NOT NULL,
    fleet_id     text NOT NULL REFERENCES fleets ON DELETE CASCADE,
    PRIMARY KEY (tenant_id, campaign_id, fleet_id),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns ON DELETE CASCADE
);

-- Weekdays and a local time window (actors/rules/dayparts.py), read in each tablet's fleet's
-- zone; a campaign without rows runs all day.
CREATE TABLE campaign_dayparts (
    tenant_id    text NOT NULL,
    campaign_id  text NOT NULL,
    position     smallint NOT NULL CHECK (position >= 0),
    days         smallint[],
    start_time   time,
    end_time     time,
    PRIMARY KEY (tenant_id, campaign_id, position),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns ON DELETE CASCADE,
    CHECK ((start_time IS NULL) = (end_time IS NULL))
);

CREATE TABLE campaign_zones (
    tenant_id    text NOT NULL,
    campaign_id  text NOT NULL,
    zone_id      text NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, zone_id),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, zone_id) REFERENCES zones ON DELETE RESTRICT
);

-- Creatives pin a media version, as playlist items do (media retention keeps it).
CREATE TABLE campaign_creatives (
    tenant_id      text NOT NULL,
    campaign_id    text NOT NULL,
    position       smallint NOT NULL CHECK (position >= 0),
    media_id       text NOT NULL,
    media_version  integer NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, position),
    UNIQUE (tenant_id, campaign_id, media_id),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, media_id, media_version) REFERENCES media_versions
);
CREATE INDEX campaign_creatives_media_idx ON campaign_creatives (tenant_id, media_id);

-- The last pacing decision of each running campaign (the hub, shard 0).
CREATE TABLE campaign_pacing (
    tenant_id    text NOT NULL,
    campaign_id  text NOT NULL,
    day          date NOT NULL,
    multiplier   double precision NOT NULL CHECK (multiplier >= 0),
    pods         smallint NOT NULL CHECK (pods >= 0),
    status       text NOT NULL,
    delivered    bigint NOT NULL,
    expected     bigint,
    goal         bigint,
    computed_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns ON DELETE CASCADE
);

ALTER TABLE plays
    ADD COLUMN zone_id text,
    ADD COLUMN out_of_target boolean,
    ADD COLUMN h3_cell text;

-- Delivery per campaign, local hour (the start of the hour in the campaign's zone, as an
-- instant) and tablet: every play stored, those completed, and what counts towards the goal
-- (in-target completed plays, in-target play time).
CREATE TABLE campaign_delivery (
    tenant_id      text NOT NULL,
    campaign_id    text NOT NULL,
    hour           timestamptz NOT NULL,
    tablet_id      text NOT NULL,
    plays          bigint NOT NULL,
    completed      bigint NOT NULL,
    in_target      bigint NOT NULL,
    in_target_ms   bigint NOT NULL,
    out_of_target  bigint NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, hour, tablet_id)
);

-- Where a campaign's plays happened: per local day and H3 cell (in-target plays and all).
CREATE TABLE campaign_cells (
    tenant_id    text NOT NULL,
    campaign_id  text NOT NULL,
    day          date NOT NULL,
    cell         text NOT NULL,
    plays        bigint NOT NULL,
    in_target    bigint NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, day, cell)
);
