"""Each tablet's content readiness (``tablet_media``), written by the hub's writer, and the
counts the push and playlist pages show ("47 ready · 2 downloading 61 % · 1 failed").

The upsert runs on the writer's cursor, in its transaction: one statement per flush, the
arrays in binary (``%b``), the newest row per tablet.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from actors.effects import MediaStateRow
from store.pushes import MATCHES

Cursor = psycopg.AsyncCursor[Any]

UPSERT = """
INSERT INTO tablet_media (tablet_id, playlist_id, etag, total, ready, downloading, failed,
                          bytes_done, bytes_total, detail, reported_at, updated_at)
SELECT *, now() FROM unnest(%b::text[], %b::text[], %b::text[], %b::int4[], %b::int4[],
                            %b::int4[], %b::int4[], %b::int8[], %b::int8[], %b::text[],
                            %b::timestamptz[])
ON CONFLICT (tablet_id) DO UPDATE SET
    playlist_id = excluded.playlist_id, etag = excluded.etag, total = excluded.total,
    ready = excluded.ready,
    downloading = excluded.downloading, failed = excluded.failed,
    bytes_done = excluded.bytes_done, bytes_total = excluded.bytes_total,
    detail = excluded.detail, reported_at = excluded.reported_at, updated_at = now()
"""


async def upsert_media_states(cur: Cursor, rows: Sequence[MediaStateRow]) -> None:
    """One row per tablet (the caller keeps the newest)."""
    await cur.execute(
        UPSERT,
        (
            [r.tablet_id for r in rows],
            [r.playlist_id for r in rows],
            [r.etag for r in rows],
            [r.total for r in rows],
            [r.ready for r in rows],
            [r.downloading for r in rows],
            [r.failed for r in rows],
            [r.bytes_done for r in rows],
            [r.bytes_total for r in rows],
            [r.detail for r in rows],
            [r.reported_at for r in rows],
        ),
    )


@dataclass(frozen=True, slots=True)
class Readiness:
    """Of some tablets whose desired manifest is ``etag``: how many hold all its library
    files, are downloading (and how far, in bytes), have a failed file, or have not said."""

    ready: int = 0
    downloading: int = 0
    failed: int = 0
    unknown: int = 0
    bytes_done: int = 0
    bytes_total: int = 0

    @property
    def percent(self) -> int:
        """How far the downloading tablets are, in bytes."""
        return int(100 * self.bytes_done / self.bytes_total) if self.bytes_total else 0

    @property
    def any(self) -> bool:
        return bool(self.ready or self.downloading or self.failed)

    def label(self) -> str:
        """ "47 ready · 2 downloading 61 % · 1 failed" (the parts that are not 0)."""
        parts = [f"{self.ready} ready"] if self.ready or not self.any else []
        if self.downloading:
            parts.append(f"{self.downloading} downloading {self.percent} %")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return " · ".join(parts)


COUNTS = """
count(*) FILTER (WHERE m.ready = m.total),
count(*) FILTER (WHERE m.ready < m.total AND m.failed = 0),
count(*) FILTER (WHERE m.failed > 0),
count(*) FILTER (WHERE m.tablet_id IS NULL),
coalesce(sum(m.bytes_done) FILTER (WHERE m.ready < m.total AND m.failed = 0), 0),
coalesce(sum(m.bytes_total) FILTER (WHERE m.ready < m.total AND m.failed = 0), 0)
"""

# The tablets a push targets, and their readiness for its manifest.
PUSH_READINESS = f"""
WITH p AS (SELECT * FROM pushes WHERE push_id = %(push)s AND tenant_id = %(tenant)s),
targeted AS (
    SELECT DISTINCT t.tablet_id
    FROM p
    JOIN playlist_assignments a ON a.assignment_id = ANY(p.assignment_ids)
    JOIN tablets t ON t.revoked_at IS NULL AND {MATCHES}
    JOIN fleets f ON f.fleet_id = t.fleet_id AND f.tenant_id = p.tenant_id
)
SELECT {COUNTS}
FROM targeted t CROSS JOIN p
LEFT JOIN tablet_media m ON m.tablet_id = t.tablet_id AND m.etag = p.etag AND m.total > 0
"""  # noqa: S608 - constant fragments only

# The tenant's tablets whose desired manifest plays the playlist, and their readiness.
PLAYLIST_READINESS = f"""
SELECT {COUNTS}
FROM tablet_media m
JOIN tablet_state s ON s.tablet_id = m.tablet_id AND s.desired_etag = m.etag
JOIN tablets t ON t.tablet_id = m.tablet_id AND t.revoked_at IS NULL
JOIN fleets f ON f.fleet_id = t.fleet_id
WHERE f.tenant_id = %(tenant)s AND m.playlist_id = %(playlist)s AND m.total > 0
"""  # noqa: S608 - constant fragments only


async def _counts(
    conn: psycopg.AsyncConnection[Any], sql: str, params: dict[str, Any]
) -> Readiness:
    row = await (await conn.execute(sql, params)).fetchone()
    return Readiness() if row is None else Readiness(*(int(v) for v in row))


async def push_readiness(
    conn: psycopg.AsyncConnection[Any], tenant_id: str, push_id: uuid.UUID
) -> Readiness:
    """The content readiness of the push's tablets for its manifest (``unknown``: no report
    for it yet, or no library files in it)."""
    return await _counts(conn, PUSH_READINESS, {"tenant": tenant_id, "push": push_id})


async def playlist_readiness(
    conn: psycopg.AsyncConnection[Any], tenant_id: str, playlist_id: str
) -> Readiness:
    """The content readiness of the tenant's tablets that should play the playlist now."""
    return await _counts(conn, PLAYLIST_READINESS, {"tenant": tenant_id, "playlist": playlist_id})
