-- Proof of play counts each fleet's local days: plays_daily.day becomes the date of each
-- play's start in its fleet's time zone (store/plays.py adds new plays so). The days whose
-- raw plays are all still stored are counted again that way; older rollup rows, whose
-- plays retention has removed, keep their UTC days.
-- depends: 0018_profiles

DELETE FROM plays_daily
WHERE day >= (SELECT (min(started_at) AT TIME ZONE 'UTC')::date + 1 FROM plays);

INSERT INTO plays_daily AS d (day, campaign_id, tablet_id, fleet_id, plays, completed, duration_ms)
SELECT (p.started_at AT TIME ZONE coalesce(f.timezone, 'UTC'))::date, p.campaign_id, p.tablet_id,
       max(p.fleet_id), count(*), count(*) FILTER (WHERE p.result = 'completed'),
       sum(p.duration_ms)
FROM plays p LEFT JOIN fleets f ON f.fleet_id = p.fleet_id
WHERE p.started_at >= (SELECT ((min(started_at) AT TIME ZONE 'UTC')::date + 1)::timestamp
                              AT TIME ZONE 'UTC' FROM plays)
GROUP BY 1, 2, 3
ON CONFLICT (day, campaign_id, tablet_id) DO UPDATE SET
    plays = d.plays + excluded.plays,
    completed = d.completed + excluded.completed,
    duration_ms = d.duration_ms + excluded.duration_ms;
