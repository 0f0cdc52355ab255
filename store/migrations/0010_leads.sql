-- Leads (issue #5): a passenger scans a tablet's QR code, fills the public form at /l/{code}
-- and the lead is committed with its attribution (fleet, car, tablet, driver) and
-- `NOTIFY fleethub_leads, '<lead_id>'`. Routing to agents (offers, pushes) comes later and
-- reads campaign_agents, lead_campaigns.offer_timeout_s/routing and leads.status.
-- depends: 0007_device_tokens

-- One per tenant and campaign id (the campaign ids of playlist items and proof of play).
CREATE TABLE lead_campaigns (
    tenant_id        text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    campaign_id      text NOT NULL CHECK (length(campaign_id) BETWEEN 1 AND 128),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    dedupe_window    interval NOT NULL DEFAULT interval '24 hours'
                     CHECK (dedupe_window >= interval '0'),
    offer_timeout_s  integer NOT NULL DEFAULT 120 CHECK (offer_timeout_s > 0),
    routing          text NOT NULL DEFAULT 'round_robin'
                     CHECK (routing IN ('round_robin', 'broadcast')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, campaign_id)
);

-- The agents (users with role 'agent' of the same tenant) subscribed to a campaign, in order.
CREATE TABLE campaign_agents (
    tenant_id    text NOT NULL,
    campaign_id  text NOT NULL,
    user_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    position     integer NOT NULL DEFAULT 0 CHECK (position >= 0),
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, campaign_id, user_id),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES lead_campaigns ON DELETE CASCADE
);
CREATE INDEX campaign_agents_user_idx ON campaign_agents (user_id);

-- A QR code: short, URL-safe, unguessable. Attribution is optional (a tablet, a car or a
-- fleet), and max_leads caps the new leads it may bring (duplicates do not count).
CREATE TABLE qr_codes (
    code         text PRIMARY KEY CHECK (code ~ '^[23456789abcdefghjkmnpqrstuvwxyz]{8,16}$'),
    tenant_id    text NOT NULL,
    campaign_id  text NOT NULL,
    fleet_id     text REFERENCES fleets ON DELETE SET NULL,
    car_id       text REFERENCES cars ON DELETE SET NULL,
    tablet_id    text REFERENCES tablets ON DELETE SET NULL,
    max_leads    integer CHECK (max_leads > 0),
    lead_count   integer NOT NULL DEFAULT 0 CHECK (lead_count >= 0),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES lead_campaigns ON DELETE CASCADE,
    CHECK (max_leads IS NULL OR lead_count <= max_leads)
);
CREATE INDEX qr_codes_campaign_idx ON qr_codes (tenant_id, campaign_id, created_at DESC);

CREATE TABLE leads (
    lead_id         uuid PRIMARY KEY,
    tenant_id       text NOT NULL,
    campaign_id     text NOT NULL,
    code            text NOT NULL REFERENCES qr_codes,
    fleet_id        text,
    car_id          text,
    tablet_id       text,
    driver_id       text,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    phone           text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    consent         boolean NOT NULL CHECK (consent),
    status          text NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'duplicate', 'offered', 'accepted', 'rejected',
                                      'contacted', 'converted', 'unassigned')),
    duplicate_of    uuid REFERENCES leads ON DELETE SET NULL,
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    submit_key      text NOT NULL UNIQUE CHECK (length(submit_key) BETWEEN 16 AND 64),
    client_ip_hash  text,
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES lead_campaigns ON DELETE CASCADE,
    -- A duplicate names its first lead (NULL once that one is erased).
    CHECK (duplicate_of IS NULL OR status = 'duplicate')
);
-- Dedupe: the same phone for the same campaign within the campaign's window.
CREATE INDEX leads_dedupe_idx ON leads (tenant_id, campaign_id, phone, submitted_at DESC);
-- The panel's list (newest first, optionally by campaign or status).
CREATE INDEX leads_tenant_idx ON leads (tenant_id, submitted_at DESC, lead_id);
CREATE INDEX leads_campaign_idx ON leads (tenant_id, campaign_id, submitted_at DESC);
CREATE INDEX leads_status_idx ON leads (tenant_id, status, submitted_at DESC);

-- The per-lead audit trail: every state change, who made it (a user, 'public', 'hub').
CREATE TABLE lead_events (
    event_id  bigserial PRIMARY KEY,
    lead_id   uuid NOT NULL REFERENCES leads ON DELETE CASCADE,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    event     text NOT NULL,
    details   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX lead_events_lead_idx ON lead_events (lead_id, at);
