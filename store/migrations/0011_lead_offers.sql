-- Lead routing (issue #5): the hub offers each new lead to one agent of its campaign at a
-- time (round robin among the campaign's active agents); an offer not accepted within the
-- campaign's offer_timeout_s goes to the next agent. Every offer and its outcome is a row
-- here; the hub writes them and NOTIFYs fleethub_lead_offers '<lead_id>' at commit, the
-- panel writes agents' decisions (accept/reject/contacted/converted) to leads + lead_events
-- and NOTIFYs fleethub_lead_actions '<lead_id>'.
-- depends: 0010_leads

CREATE TABLE lead_offers (
    offer_id     bigserial PRIMARY KEY,
    lead_id      uuid NOT NULL REFERENCES leads ON DELETE CASCADE,
    tenant_id    text NOT NULL,
    agent_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    offered_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    outcome      text CHECK (outcome IN ('accepted', 'rejected', 'timeout', 'withdrawn')),
    decided_at   timestamptz,
    CHECK ((outcome IS NULL) = (decided_at IS NULL)),
    CHECK (expires_at > offered_at)
);
-- At most one open offer per lead.
CREATE UNIQUE INDEX lead_offers_open_idx ON lead_offers (lead_id) WHERE outcome IS NULL;
CREATE INDEX lead_offers_agent_idx ON lead_offers (agent_id, offered_at DESC);

-- The agent a lead belongs to once accepted (and who holds it while offered).
ALTER TABLE leads ADD COLUMN agent_id bigint REFERENCES users ON DELETE SET NULL;
CREATE INDEX leads_agent_idx ON leads (agent_id, submitted_at DESC) WHERE agent_id IS NOT NULL;

-- Round robin survives a restart: the position of the last agent offered a lead.
ALTER TABLE lead_campaigns ADD COLUMN rr_cursor integer NOT NULL DEFAULT -1;

-- Web Push subscriptions of agents' browsers (the panel's "enable notifications").
CREATE TABLE push_subscriptions (
    endpoint     text PRIMARY KEY CHECK (endpoint ~ '^https?://'),
    user_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    p256dh       text NOT NULL,
    auth         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_ok_at   timestamptz,
    failures     integer NOT NULL DEFAULT 0
);
CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id);

-- Each Web Push delivery of an offer, retried with backoff until sent or given up.
CREATE TABLE push_deliveries (
    delivery_id  bigserial PRIMARY KEY,
    offer_id     bigint NOT NULL REFERENCES lead_offers ON DELETE CASCADE,
    endpoint     text NOT NULL REFERENCES push_subscriptions ON DELETE CASCADE,
    attempts     integer NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    gave_up_at   timestamptz,
    last_error   text,
    UNIQUE (offer_id, endpoint)
);
CREATE INDEX push_deliveries_due_idx ON push_deliveries (next_at)
    WHERE sent_at IS NULL AND gave_up_at IS NULL;
