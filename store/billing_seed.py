"""The demo's earnings history (``fleethub up``): plays and online hours of the demo tablets
on the days before the demo began, and leads the demo agent accepted. Raw plays go in with
their event ids and their local-day rollup, as the hub adds them; each insert leaves a row
that already exists as it is."""

from __future__ import annotations

from datetime import date, datetime

import psycopg

Conn = psycopg.AsyncConnection[tuple[object, ...]]

# Tablet n plays 24 to 47 ads a day between 08:00 and 21:00 local time, three campaigns in
# turn, 15 s each (every ninth one skipped after 4 s).
PLAYS = """
WITH p AS (
    SELECT t.tablet_id, t.fleet_id,
           ((d::date + time '08:00' + (k * 17 + n * 7) %% 780 * interval '1 minute')
               AT TIME ZONE f.timezone) AS started_at,
           (ARRAY['camp-morning', 'camp-finance', 'camp-sg'])[(k + n) %% 3 + 1] AS campaign_id,
           CASE WHEN (k + n) %% 9 = 0 THEN 4000 ELSE 15000 END AS duration_ms,
           CASE WHEN (k + n) %% 9 = 0 THEN 'skipped' ELSE 'completed' END AS result
    FROM unnest(%(tablets)s::text[]) WITH ORDINALITY AS x(tablet_id, n)
    JOIN tablets t USING (tablet_id)
    JOIN fleets f ON f.fleet_id = t.fleet_id
    CROSS JOIN generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d
    CROSS JOIN LATERAL generate_series(1, 24 + ((n + extract(day FROM d)::int) %% 24)) AS k
), ids AS (
    INSERT INTO play_event_ids (event_id, started_at)
    SELECT md5(tablet_id || started_at::text || campaign_id)::uuid, started_at FROM p
    ON CONFLICT DO NOTHING
    RETURNING event_id
), stored AS (
    INSERT INTO plays (started_at, event_id, tablet_id, fleet_id, ad_id, campaign_id,
                       playlist_id, playlist_etag, duration_ms, result, received_at)
    SELECT p.started_at, md5(p.tablet_id || p.started_at::text || p.campaign_id)::uuid,
           p.tablet_id, p.fleet_id, 'ad-' || p.campaign_id, p.campaign_id, 'demo-history',
           'history', p.duration_ms, p.result, p.started_at
    FROM p JOIN ids ON ids.event_id = md5(p.tablet_id || p.started_at::text || p.campaign_id)::uuid
    RETURNING started_at, tablet_id, fleet_id, campaign_id, duration_ms, result
)
INSERT INTO plays_daily AS r (day, campaign_id, tablet_id, fleet_id, plays, completed,
                              duration_ms)
SELECT (s.started_at AT TIME ZONE f.timezone)::date, s.campaign_id, s.tablet_id,
       max(s.fleet_id), count(*), count(*) FILTER (WHERE s.result = 'completed'),
       sum(s.duration_ms)
FROM stored s JOIN fleets f ON f.fleet_id = s.fleet_id
GROUP BY 1, 2, 3
ON CONFLICT (day, campaign_id, tablet_id) DO UPDATE SET plays = r.plays + excluded.plays,
    completed = r.completed + excluded.completed, duration_ms = r.duration_ms + excluded.duration_ms
"""
# Online most of every hour from 07:00 to 23:00 local time, a little less some hours.
UPTIME = """
INSERT INTO uptime_hourly (tablet_id, hour, online_seconds)
SELECT t.tablet_id, h, 3600 - ((x.n * 13 + extract(hour FROM h)::int) %% 7) * 240.5
FROM unnest(%(tablets)s::text[]) WITH ORDINALITY AS x(tablet_id, n)
JOIN tablets t USING (tablet_id)
JOIN fleets f ON f.fleet_id = t.fleet_id
CROSS JOIN generate_series((%(first)s::date::timestamp AT TIME ZONE f.timezone),
                           (%(end)s::date::timestamp AT TIME ZONE f.timezone)
                               - interval '1 hour', interval '1 hour') AS h
WHERE extract(hour FROM h AT TIME ZONE f.timezone) BETWEEN 7 AND 22
ON CONFLICT DO NOTHING
"""
HAS_HISTORY = "SELECT 1 FROM plays_daily WHERE tablet_id = ANY(%s) AND day = %s LIMIT 1"


async def history(conn: Conn, tablets: list[str], first: date, last: date) -> bool:
    """Plays and uptime of ``tablets`` from ``first`` to ``last`` (local days, included),
    once: False when they are there already."""
    if await (await conn.execute(HAS_HISTORY, (tablets, first))).fetchone() is not None:
        return False
    params = {"tablets": tablets, "first": first, "last": last, "end": last}
    await conn.execute(PLAYS, params)
    await conn.execute(UPTIME, {**params, "end": date.fromordinal(last.toordinal() + 1)})
    return True


ACCEPTED_LEAD = """
WITH lead AS (
    INSERT INTO leads (lead_id, tenant_id, campaign_id, code, fleet_id, tablet_id, name,
                       phone, consent, status, agent_id, submitted_at, submit_key)
    VALUES (%(lead)s, %(tenant)s, %(campaign)s, %(code)s, %(fleet)s, %(tablet)s, %(name)s,
            %(phone)s, true, 'accepted', %(agent)s, %(at)s - interval '2 minutes', %(key)s)
    ON CONFLICT DO NOTHING
    RETURNING lead_id
)
INSERT INTO lead_offers (lead_id, tenant_id, agent_id, offered_at, expires_at, outcome,
                         decided_at)
SELECT lead_id, %(tenant)s, %(agent)s, %(at)s - interval '1 minute',
       %(at)s + interval '1 minute', 'accepted', %(at)s
FROM lead
"""


async def accepted_lead(
    conn: Conn,
    *,
    lead_id: str,
    tenant_id: str,
    campaign_id: str,
    code: str,
    fleet_id: str,
    tablet_id: str | None,
    name: str,
    phone: str,
    agent_id: int,
    at: datetime,
) -> None:
    """A lead the agent accepted at ``at`` (left as it is when it exists)."""
    await conn.execute(
        ACCEPTED_LEAD,
        {
            "lead": lead_id, "tenant": tenant_id, "campaign": campaign_id, "code": code,
            "fleet": fleet_id, "tablet": tablet_id, "name": name, "phone": phone,
            "agent": agent_id, "at": at, "key": f"demo-{lead_id}",
        },
    )  # fmt: skip
