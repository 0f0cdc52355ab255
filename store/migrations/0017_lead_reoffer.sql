-- Leads nobody answered (issue 11, defect 10): an admin re-offers an unassigned lead to every
-- agent of its campaign or to one of them, and it is re-offered by itself when an agent of its
-- campaign becomes active again. Routing counts only the offers made since routing_since
-- (a re-offer starts a new round); offer_only, when set, is the one agent to offer it to.
-- depends: 0016_positions

ALTER TABLE leads
    ADD COLUMN routing_since timestamptz,
    ADD COLUMN offer_only bigint REFERENCES users ON DELETE SET NULL;
-- The admins' notice: the unassigned leads of a tenant.
CREATE INDEX leads_unassigned_idx ON leads (tenant_id, submitted_at DESC)
    WHERE status = 'unassigned';
