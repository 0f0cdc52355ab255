"""Each tablet's content readiness (``tablet_media``), written by the hub's writer, and the
counts the push and playlist pages show ("47 ready · 2 downloading 61 % · 1 failed").

The upsert runs on the writer's cursor, in its transaction: one statement per flush, the
arrays in binary (``%b``), the newest row per tablet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from actors.effects import MediaStateRow

Cursor = psycopg.AsyncCursor[Any]

UPSERT = """
INSERT INTO tablet_media (tablet_id, etag, total, ready, downloading, failed, bytes_done,
                          bytes_total, detail, reported_at, updated_at)
SELECT *, now() FROM unnest(%b::text[], %b::text[], %b::int4[], %b::int4[], %b::int4[],
                            %b::int4[], %b::int8[], %b::int8[], %b::text[], %b::timestamptz[])
ON CONFLICT (tablet_id) DO UPDATE SET
    etag = excluded.etag, total = excluded.total, ready = excluded.ready,
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


READINESS = """
SELECT count(*) FILTER (WHERE m.total > 0 AND m.ready = m.total),
       count(*) FILTER (WHERE m.ready < m.total AND m.failed = 0),
       count(*) FILTER (WHERE m.failed > 0),
       count(*) FILTER (WHERE m.tablet_id IS NULL),
       coalesce(sum(m.bytes_done) FILTER (WHERE m.ready < m.total AND m.failed = 0), 0),
       coalesce(sum(m.bytes_total) FILTER (WHERE m.ready < m.total AND m.failed = 0), 0)
FROM unnest(%(tablets)s::text[]) AS t(tablet_id)
LEFT JOIN tablet_media m ON m.tablet_id = t.tablet_id AND m.etag = %(etag)s AND m.total > 0
"""


async def readiness(
    conn: psycopg.AsyncConnection[Any], etag: str, tablet_ids: list[str]
) -> Readiness:
    """The content readiness of these tablets for the manifest ``etag``."""
    row = await (await conn.execute(READINESS, {"etag": etag, "tablets": tablet_ids})).fetchone()
    assert row is not None
    return Readiness(*(int(v) for v in row))
