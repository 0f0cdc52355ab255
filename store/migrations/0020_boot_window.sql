-- The heartbeat dedupe window (docs/mqtt-contract.md, "Heartbeat"; issue 17): the last
-- stored seq of each of a tablet's last 8 boots, [[boot_id, seq], …] oldest first, so a
-- redelivery of an earlier boot's heartbeat is recognised across hub restarts too.
-- depends: 0019_plays_local_days

ALTER TABLE tablet_state ADD COLUMN recent_boots jsonb;
