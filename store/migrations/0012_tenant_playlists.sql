-- Playlists per tenant (issue #18): a playlist id is the content address of its items within
-- one tenant, so two tenants storing the same items hold two playlists, and every lookup
-- names (tenant_id, playlist_id). A playlist that tenants shared until now is copied to each
-- tenant holding it (in its library, an assignment or a push); one nobody holds is dropped.
-- depends: 0011_lead_offers

ALTER TABLE tenant_playlists DROP CONSTRAINT tenant_playlists_playlist_id_fkey;
ALTER TABLE playlist_assignments DROP CONSTRAINT playlist_assignments_playlist_id_fkey;
ALTER TABLE pushes DROP CONSTRAINT pushes_playlist_id_fkey;
ALTER TABLE playlist_items DROP CONSTRAINT playlist_items_playlist_id_fkey;
ALTER TABLE playlist_items DROP CONSTRAINT playlist_items_pkey;
ALTER TABLE playlists DROP CONSTRAINT playlists_pkey;

ALTER TABLE playlists ADD COLUMN tenant_id text REFERENCES tenants ON DELETE CASCADE;
ALTER TABLE playlist_items ADD COLUMN tenant_id text;

CREATE TEMPORARY TABLE playlist_holders AS
SELECT tenant_id, playlist_id FROM tenant_playlists
UNION SELECT tenant_id, playlist_id FROM playlist_assignments
UNION SELECT tenant_id, playlist_id FROM pushes;

INSERT INTO playlists (tenant_id, playlist_id, version, name, created_at)
SELECT h.tenant_id, p.playlist_id, p.version, coalesce(tp.name, p.name), p.created_at
FROM playlist_holders h
JOIN playlists p ON p.playlist_id = h.playlist_id AND p.tenant_id IS NULL
LEFT JOIN tenant_playlists tp ON tp.tenant_id = h.tenant_id AND tp.playlist_id = h.playlist_id;

INSERT INTO playlist_items (tenant_id, playlist_id, position, ad_id, campaign_id, url, sha256,
                            duration_ms)
SELECT h.tenant_id, i.playlist_id, i.position, i.ad_id, i.campaign_id, i.url, i.sha256,
       i.duration_ms
FROM playlist_holders h
JOIN playlist_items i ON i.playlist_id = h.playlist_id AND i.tenant_id IS NULL;

DELETE FROM playlist_items WHERE tenant_id IS NULL;
DELETE FROM playlists WHERE tenant_id IS NULL;
DROP TABLE playlist_holders;

ALTER TABLE playlists
    ALTER COLUMN tenant_id SET NOT NULL,
    ADD PRIMARY KEY (tenant_id, playlist_id);
ALTER TABLE playlist_items
    ALTER COLUMN tenant_id SET NOT NULL,
    ADD PRIMARY KEY (tenant_id, playlist_id, position),
    ADD FOREIGN KEY (tenant_id, playlist_id) REFERENCES playlists ON DELETE CASCADE;
ALTER TABLE tenant_playlists
    ADD FOREIGN KEY (tenant_id, playlist_id) REFERENCES playlists ON DELETE CASCADE;
ALTER TABLE playlist_assignments ADD FOREIGN KEY (tenant_id, playlist_id) REFERENCES playlists;
ALTER TABLE pushes ADD FOREIGN KEY (tenant_id, playlist_id) REFERENCES playlists;
