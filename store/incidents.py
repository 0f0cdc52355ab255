"""Incidents: opened and resolved, each with its notification (``notifications``, deduplicated)
and ``NOTIFY fleethub_alerts`` carrying the alert's payload.

Runs on the caller's cursor, in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

import psycopg

from actors.effects import IncidentEvent
from actors.rules.incidents import alert_payload

Cursor = psycopg.AsyncCursor[Any]

OPEN_INCIDENT = """
INSERT INTO incidents (incident_id, tablet_id, fleet_id, kind, opened_at, offline_since)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (incident_id) DO NOTHING
"""
RESOLVE_INCIDENT = """
UPDATE incidents SET resolved_at = %s WHERE incident_id = %s AND resolved_at IS NULL
"""
NOTIFY = """
INSERT INTO notifications (fleet_id, tablet_id, kind, payload, dedupe_key)
VALUES (%s, %s, %s, %s, %s) ON CONFLICT (dedupe_key) DO NOTHING
"""
NOTIFY_ALERTS = "SELECT pg_notify('fleethub_alerts', %s)"


async def write_incident(cur: Cursor, ev: IncidentEvent) -> None:
    """Open or resolve the incident, record its notification and notify the alert."""
    if ev.event == "opened":
        row = (ev.incident_id, ev.tablet_id, ev.fleet_id, ev.kind, ev.opened_at,
               ev.offline_since)  # fmt: skip
        await cur.execute(OPEN_INCIDENT, row)
    else:
        await cur.execute(RESOLVE_INCIDENT, (ev.at, ev.incident_id))
    payload = alert_payload(ev).decode()
    await cur.execute(
        NOTIFY,
        (ev.fleet_id, ev.tablet_id, f"incident.{ev.event}", payload,
         f"{ev.incident_id}:{ev.event}"),
    )  # fmt: skip
    await cur.execute(NOTIFY_ALERTS, (payload,))
