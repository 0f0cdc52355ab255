"""Playlist deliveries: one row per ``(tablet_id, etag)``, published then acknowledged.

One statement per flush, on the caller's cursor and in the caller's transaction: of the
rows for one ``(tablet_id, etag)`` the newest wins, and the publish time stays the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from actors.effects import DeliveryRow

Cursor = psycopg.AsyncCursor[Any]

UPSERT_DELIVERY = """
INSERT INTO deliveries (tablet_id, etag, status, published_at, acked_at, detail)
SELECT DISTINCT ON (tablet_id, etag) tablet_id, etag, status,
       coalesce(min(at) FILTER (WHERE status = 'published') OVER w, at),
       CASE WHEN status = 'published' THEN NULL ELSE at END, detail
FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::text[], %b::int8[])
     AS d(tablet_id, etag, status, at, detail, n)
WINDOW w AS (PARTITION BY tablet_id, etag)
ORDER BY tablet_id, etag, n DESC
ON CONFLICT (tablet_id, etag) DO UPDATE SET
    status = excluded.status,
    -- a batch holding only an ack keeps the stored publish time
    published_at = CASE WHEN excluded.acked_at IS DISTINCT FROM excluded.published_at
                        THEN excluded.published_at ELSE deliveries.published_at END,
    acked_at = excluded.acked_at,
    detail = excluded.detail
"""


async def upsert_deliveries(cur: Cursor, rows: Sequence[DeliveryRow]) -> None:
    """The rows in order: the newest row per ``(tablet_id, etag)`` wins."""
    ds = rows
    await cur.execute(
        UPSERT_DELIVERY,
        (
            [d.tablet_id for d in ds],
            [d.etag for d in ds],
            [d.status for d in ds],
            [d.at for d in ds],
            [d.detail for d in ds],
            list(range(len(ds))),
        ),
    )
