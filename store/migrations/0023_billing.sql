-- Earnings and billing (issue 15, docs/billing.md): per-tenant currency and rate cards,
-- drivers and their cars over time, the car each tablet was in over time, closed months whose
-- documents (fleet and driver statements, lead invoices) are frozen rows with a content hash,
-- lead prices and disputes, and the role 'driver' signing in by a one-time link.
-- depends: 0022_media

-- A tenant's currency (amounts are exact numerics in it), the zone its lead invoices count
-- months in, and how many days a buyer has to dispute an accepted lead. No row: the defaults
-- (store/billing_settings.py).
CREATE TABLE billing_settings (
    tenant_id     text PRIMARY KEY REFERENCES tenants ON DELETE CASCADE,
    currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    minor_units   smallint NOT NULL CHECK (minor_units BETWEEN 0 AND 4),
    timezone      text NOT NULL CHECK (length(timezone) BETWEEN 1 AND 64),
    dispute_days  integer NOT NULL CHECK (dispute_days BETWEEN 0 AND 366),
    updated_by    text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Versioned rate cards: valid from one local day to another (inclusive; open ended while
-- valid_to is NULL), never overlapping within a tenant (checked under the tenant's billing
-- lock, store/rate_cards.py). Only valid_to ever changes.
CREATE TABLE rate_cards (
    tenant_id         text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    version           integer NOT NULL CHECK (version > 0),
    valid_from        date NOT NULL,
    valid_to          date,
    default_basis     text NOT NULL CHECK (default_basis IN ('play_second', 'thousand_plays')),
    default_rate      numeric(18, 6) NOT NULL CHECK (default_rate >= 0),
    online_hour_rate  numeric(18, 6) NOT NULL CHECK (online_hour_rate >= 0),
    platform_share    numeric(5, 2) NOT NULL CHECK (platform_share BETWEEN 0 AND 100),
    owner_share       numeric(5, 2) NOT NULL CHECK (owner_share BETWEEN 0 AND 100),
    driver_share      numeric(5, 2) NOT NULL CHECK (driver_share BETWEEN 0 AND 100),
    note              text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, version),
    CHECK (valid_to IS NULL OR valid_to >= valid_from),
    CHECK (platform_share + owner_share + driver_share = 100)
);

CREATE TABLE rate_card_campaigns (
    tenant_id    text NOT NULL,
    version      integer NOT NULL,
    campaign_id  text NOT NULL CHECK (length(campaign_id) BETWEEN 1 AND 128),
    basis        text NOT NULL CHECK (basis IN ('play_second', 'thousand_plays')),
    rate         numeric(18, 6) NOT NULL CHECK (rate >= 0),
    PRIMARY KEY (tenant_id, version, campaign_id),
    FOREIGN KEY (tenant_id, version) REFERENCES rate_cards ON DELETE CASCADE
);

-- The driver register: code is what a tablet reports as driver_id (heartbeat extras);
-- user_id their panel login (role 'driver', created with their first sign-in link).
CREATE TABLE drivers (
    driver_id   bigserial PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    fleet_id    text NOT NULL REFERENCES fleets ON DELETE RESTRICT,
    code        text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    phone       text CHECK (phone IS NULL OR length(phone) BETWEEN 1 AND 32),
    user_id     bigint UNIQUE REFERENCES users ON DELETE SET NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, code)
);
CREATE INDEX drivers_fleet_idx ON drivers (fleet_id);

-- Which driver drove which car, from one local day to another (inclusive; open while
-- valid_to is NULL). A car has one driver a day and a driver one car (store/drivers.py).
-- car_id is not a foreign key: a removed car keeps its history.
CREATE TABLE driver_assignments (
    assignment_id  bigserial PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    driver_id      bigint NOT NULL REFERENCES drivers ON DELETE CASCADE,
    car_id         text NOT NULL,
    valid_from     date NOT NULL,
    valid_to       date,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX driver_assignments_car_idx ON driver_assignments (tenant_id, car_id, valid_from);
CREATE INDEX driver_assignments_driver_idx ON driver_assignments (driver_id, valid_from);

-- The car (and fleet) each tablet was in since when, kept by a trigger on tablets whatever
-- moves it (CLI, panel, pairing). A statement gives a tablet's day to the car it was in when
-- the day ended; days before its first row belong to its first car.
CREATE TABLE tablet_cars (
    tablet_id  text NOT NULL,
    since      timestamptz NOT NULL,
    fleet_id   text NOT NULL,
    car_id     text,
    PRIMARY KEY (tablet_id, since)
);

CREATE FUNCTION fleethub_track_tablet_car() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.car_id IS DISTINCT FROM OLD.car_id
       OR NEW.fleet_id IS DISTINCT FROM OLD.fleet_id THEN
        INSERT INTO tablet_cars (tablet_id, since, fleet_id, car_id)
        VALUES (NEW.tablet_id, now(), NEW.fleet_id, NEW.car_id)
        ON CONFLICT (tablet_id, since) DO UPDATE
            SET fleet_id = excluded.fleet_id, car_id = excluded.car_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tablets_track_car AFTER INSERT OR UPDATE OF car_id, fleet_id ON tablets
    FOR EACH ROW EXECUTE FUNCTION fleethub_track_tablet_car();

INSERT INTO tablet_cars (tablet_id, since, fleet_id, car_id)
SELECT tablet_id, registered_at, fleet_id, car_id FROM tablets;

-- Closing a month freezes every document of the tenant for it. Reopening (an admin, with a
-- reason) ends the close; the documents stay, superseded. At most one live close a month.
CREATE TABLE billing_closes (
    close_id       bigserial PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants ON DELETE RESTRICT,
    month          date NOT NULL CHECK (extract(day FROM month) = 1),
    closed_at      timestamptz NOT NULL DEFAULT now(),
    closed_by      text NOT NULL,
    reopened_at    timestamptz,
    reopened_by    text,
    reopen_reason  text CHECK (reopen_reason IS NULL OR length(reopen_reason) BETWEEN 1 AND 500),
    CHECK ((reopened_at IS NULL) = (reopened_by IS NULL)
           AND (reopened_at IS NULL) = (reopen_reason IS NULL))
);
CREATE UNIQUE INDEX billing_closes_live_idx ON billing_closes (tenant_id, month)
    WHERE reopened_at IS NULL;

-- A frozen document: a fleet's or a driver's statement, or a buyer's lead invoice.
CREATE TABLE billing_documents (
    document_id   bigserial PRIMARY KEY,
    close_id      bigint NOT NULL REFERENCES billing_closes ON DELETE RESTRICT,
    tenant_id     text NOT NULL,
    month         date NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('fleet', 'driver', 'leads')),
    party         text NOT NULL,
    party_name    text NOT NULL,
    fleet_id      text,
    currency      text NOT NULL,
    minor_units   smallint NOT NULL,
    timezone      text NOT NULL,
    total         numeric NOT NULL,
    content_hash  text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    UNIQUE (close_id, kind, party)
);
CREATE INDEX billing_documents_party_idx ON billing_documents (tenant_id, kind, party, month);

-- A frozen line. period is the month its figures belong to: the document's month, or an
-- earlier closed month it adjusts.
CREATE TABLE billing_lines (
    document_id   bigint NOT NULL REFERENCES billing_documents ON DELETE RESTRICT,
    line_no       integer NOT NULL CHECK (line_no >= 0),
    period        date NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('plays', 'online', 'lead')),
    fleet_id      text,
    car_id        text,
    driver_id     bigint,
    driver_name   text,
    campaign_id   text,
    rate_version  integer,
    basis         text,
    rate          numeric,
    plays         bigint,
    completed     bigint,
    play_ms       bigint,
    online_s      numeric,
    quantity      numeric,
    gross         numeric,
    platform      numeric,
    owner         numeric,
    driver        numeric,
    lead_id       text,
    lead_name     text,
    accepted_at   timestamptz,
    lead_status   text CHECK (lead_status IN ('billable', 'disputed', 'credited')),
    price         numeric,
    amount        numeric,
    PRIMARY KEY (document_id, line_no)
);
CREATE INDEX billing_lines_period_idx ON billing_lines (period, kind);

-- Closed is closed: frozen documents and lines never change; a close only ever gains its
-- reopening (once).
CREATE FUNCTION fleethub_billing_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'closed billing documents never change (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER billing_documents_frozen BEFORE UPDATE OR DELETE ON billing_documents
    FOR EACH ROW EXECUTE FUNCTION fleethub_billing_frozen();
CREATE TRIGGER billing_lines_frozen BEFORE UPDATE OR DELETE ON billing_lines
    FOR EACH ROW EXECUTE FUNCTION fleethub_billing_frozen();

CREATE FUNCTION fleethub_billing_reopen_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.reopened_at IS NOT NULL
       OR (NEW.close_id, NEW.tenant_id, NEW.month, NEW.closed_at, NEW.closed_by)
          IS DISTINCT FROM (OLD.close_id, OLD.tenant_id, OLD.month, OLD.closed_at, OLD.closed_by)
    THEN
        RAISE EXCEPTION 'a month close is only ever reopened, once'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER billing_closes_reopen_once BEFORE UPDATE OR DELETE ON billing_closes
    FOR EACH ROW EXECUTE FUNCTION fleethub_billing_reopen_once();

-- The price of an accepted lead of a campaign, from an instant on (a lead costs the price
-- in force when it was accepted).
CREATE TABLE lead_prices (
    tenant_id    text NOT NULL,
    campaign_id  text NOT NULL,
    valid_from   timestamptz NOT NULL,
    price        numeric(18, 4) NOT NULL CHECK (price >= 0),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, campaign_id, valid_from),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES lead_campaigns ON DELETE CASCADE
);

-- A buyer's dispute of an accepted lead (one per lead), decided by an admin.
CREATE TABLE lead_disputes (
    dispute_id     bigserial PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    lead_id        uuid NOT NULL UNIQUE REFERENCES leads ON DELETE CASCADE,
    agent_id       bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    opened_at      timestamptz NOT NULL DEFAULT now(),
    decision       text CHECK (decision IN ('accepted', 'rejected')),
    decided_at     timestamptz,
    decided_by     text,
    decision_note  text CHECK (decision_note IS NULL OR length(decision_note) <= 1000),
    CHECK ((decision IS NULL) = (decided_at IS NULL) AND (decision IS NULL) = (decided_by IS NULL))
);
CREATE INDEX lead_disputes_open_idx ON lead_disputes (tenant_id, opened_at) WHERE decision IS NULL;

-- Drivers sign in to the panel by a one-time link (user_links purpose 'signin').
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'fleet_owner', 'agent', 'advertiser', 'driver'));
ALTER TABLE user_links DROP CONSTRAINT user_links_purpose_check;
ALTER TABLE user_links ADD CONSTRAINT user_links_purpose_check
    CHECK (purpose IN ('invite', 'reset', 'signin'));
