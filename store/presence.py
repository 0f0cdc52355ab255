"""Presence: transitions (``COPY``, then ``NOTIFY fleethub_state``), the current state of each
tablet (``tablet_state``) and its online seconds per hour (``uptime_hourly``).

Each function runs on the caller's cursor, in the caller's transaction: the state rows by
binary ``COPY`` into a staging table and one upsert from it, the uptime as binary arrays
(``%b``) in one statement per flush.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg

from actors.effects import TabletStateRow, TransitionRow

Cursor = psycopg.AsyncCursor[Any]

COPY_TRANSITIONS = (
    "COPY presence_transitions (time, tablet_id, from_state, to_state, reason) FROM STDIN"
)
NOTIFY_STATE = "SELECT pg_notify('fleethub_state', %s)"
# A flush's state rows go to the store through a staging table: binary COPY formats a row in
# psycopg's C code, where the arrays of an unnest() upsert were dumped element by element in
# Python (2.9 against 6.9 µs a row). The staging row is the row as the writer sends it (the
# incident id and recent_boots as text, ``STATE_CASTS``); the upsert casts it to tablet_state's
# columns, which tests/hub/test_heartbeat_columns.py keeps equal to these.
STATE_COLUMNS = (
    ("tablet_id", "text"),
    ("state", "text"),
    ("state_since", "timestamptz"),
    ("last_heartbeat_at", "timestamptz"),
    ("boot_id", "text"),
    ("last_seq", "int8"),
    ("desired_etag", "text"),
    ("applied_etag", "text"),
    ("uptime_until", "timestamptz"),
    ("open_incident_id", "text"),
    ("battery", "int2"),
    ("app_version", "text"),
    ("ad_id", "text"),
    ("campaign_id", "text"),
    ("recent_boots", "text"),
    ("lat", "float8"),
    ("lon", "float8"),
    ("position_at", "timestamptz"),
)
STATE_CASTS = {"open_incident_id": "uuid", "recent_boots": "jsonb"}  # staged as text
_NAMES = ", ".join(name for name, _ in STATE_COLUMNS)
_CAST_NAMES = ", ".join(
    f"{name}::{STATE_CASTS[name]}" if name in STATE_CASTS else name for name, _ in STATE_COLUMNS
)
STAGE_STATES = (
    "CREATE TEMP TABLE IF NOT EXISTS tablet_state_in ("
    + ", ".join(f"{name} {pg}" for name, pg in STATE_COLUMNS)
    + ") ON COMMIT DELETE ROWS"
)
COPY_STATES = f"COPY tablet_state_in ({_NAMES}) FROM STDIN (FORMAT BINARY)"
UPSERT_STATE = (
    f"INSERT INTO tablet_state ({_NAMES}, updated_at) SELECT {_CAST_NAMES}"  # noqa: S608
    + """, now() FROM tablet_state_in
ON CONFLICT (tablet_id) DO UPDATE SET
    state = excluded.state, state_since = excluded.state_since,
    last_heartbeat_at = excluded.last_heartbeat_at, boot_id = excluded.boot_id,
    last_seq = excluded.last_seq, desired_etag = excluded.desired_etag,
    applied_etag = excluded.applied_etag, uptime_until = excluded.uptime_until,
    open_incident_id = excluded.open_incident_id, battery = excluded.battery,
    app_version = excluded.app_version, ad_id = excluded.ad_id,
    campaign_id = excluded.campaign_id, recent_boots = excluded.recent_boots,
    lat = excluded.lat, lon = excluded.lon, position_at = excluded.position_at,
    updated_at = now()
"""
)
UPSERT_UPTIME = """
INSERT INTO uptime_hourly (tablet_id, hour, online_seconds)
SELECT * FROM unnest(%b::text[], %b::timestamptz[], %b::float8[])
ON CONFLICT (tablet_id, hour) DO UPDATE
SET online_seconds = least(3600, uptime_hourly.online_seconds + excluded.online_seconds)
"""

NOTIFY_LIMIT = 7000  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more


def notify_chunks(ids: list[str]) -> list[str]:
    """JSON arrays of ids, each small enough for one ``NOTIFY``."""
    chunks: list[str] = []
    current: list[str] = []
    size = 2
    for tablet_id in ids:
        cost = len(json.dumps(tablet_id)) + 1
        if current and size + cost > NOTIFY_LIMIT:
            chunks.append(json.dumps(current, separators=(",", ":")))
            current, size = [], 2
        current.append(tablet_id)
        size += cost
    if current:
        chunks.append(json.dumps(current, separators=(",", ":")))
    return chunks


async def copy_transitions(cur: Cursor, rows: Sequence[TransitionRow]) -> None:
    """``COPY`` the transitions, then notify the ids of their tablets (``fleethub_state``)."""
    async with cur.copy(COPY_TRANSITIONS) as copy:
        for t in rows:
            await copy.write_row((t.time, t.tablet_id, t.from_state, t.to_state, t.reason))
    for chunk in notify_chunks(sorted({t.tablet_id for t in rows})):
        await cur.execute(NOTIFY_STATE, (chunk,))


async def upsert_states(cur: Cursor, rows: Sequence[TabletStateRow]) -> None:
    """Each tablet's current state, one row per tablet (staged: see ``STATE_COLUMNS``)."""
    await cur.execute(STAGE_STATES)
    async with cur.copy(COPY_STATES) as copy:
        copy.set_types([pg for _, pg in STATE_COLUMNS])
        for r in rows:
            p = r.position
            await copy.write_row(
                (
                    r.tablet_id,
                    r.state,
                    r.state_since,
                    r.last_heartbeat_at,
                    r.boot_id,
                    r.last_seq,
                    r.desired_etag,
                    r.applied_etag,
                    r.uptime_until,
                    r.open_incident_id,
                    r.battery,
                    r.app_version,
                    r.ad_id,
                    r.campaign_id,
                    boots_json(r.recent_boots),
                    None if p is None else p.lat,
                    None if p is None else p.lon,
                    None if p is None else p.at,
                )
            )
    await cur.execute(UPSERT_STATE)


async def add_uptime(cur: Cursor, uptime: Mapping[tuple[str, datetime], float]) -> None:
    """Online seconds per ``(tablet_id, hour)`` added to the hour's (at most 3600)."""
    keys = list(uptime)
    await cur.execute(
        UPSERT_UPTIME,
        ([k[0] for k in keys], [k[1] for k in keys], list(uptime.values())),
    )


@functools.lru_cache(maxsize=32_768)
def _json_text(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def boots_json(boots: tuple[tuple[str, int], ...]) -> str:
    """``recent_boots`` as JSON text, ``[[boot_id, seq], …]``, from cached pieces: the boots
    before the current one change only with a reboot (or a late heartbeat of an earlier
    boot), and encoding the whole window on every row was 2 of the 5 µs a state row cost
    to send (psycopg's ``Jsonb`` encodes each row's anew)."""
    if not boots:
        return "[]"
    earlier, (boot, seq) = boots[:-1], boots[-1]
    last = f"[{_json_text(boot)},{int(seq)}]"
    if not earlier:
        return f"[{last}]"
    return f"{_json_text(earlier)[:-1]},{last}]"
