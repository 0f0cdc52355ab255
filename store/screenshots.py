"""Screenshots tablets uploaded for a ``screenshot`` command: one per command and tablet.

:func:`add` keeps the first (the upload URL is single-use) of a tablet the command targets
that is not revoked; the panel reads them within the user's scope.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from store.scope import IN_SCOPE, scope_params
from store.users import User


@dataclass(frozen=True, slots=True)
class Screenshot:
    command_id: uuid.UUID
    tablet_id: str
    sha256: str
    content_type: str
    bytes: int
    width: int
    height: int
    taken_at: datetime


ADD = """
INSERT INTO screenshots (command_id, tablet_id, sha256, content_type, bytes, width, height)
SELECT t.command_id, t.tablet_id, %(sha)s, %(type)s, %(bytes)s, %(width)s, %(height)s
FROM command_targets t
JOIN commands c USING (command_id)
JOIN tablets tb ON tb.tablet_id = t.tablet_id
WHERE t.command_id = %(command)s AND t.tablet_id = %(tablet)s AND c.name = 'screenshot'
  AND tb.revoked_at IS NULL
ON CONFLICT DO NOTHING
RETURNING taken_at
"""
MAY_UPLOAD = """
SELECT s.command_id IS NOT NULL
FROM command_targets t
JOIN commands c USING (command_id)
JOIN tablets tb ON tb.tablet_id = t.tablet_id
LEFT JOIN screenshots s ON s.command_id = t.command_id AND s.tablet_id = t.tablet_id
WHERE t.command_id = %s AND t.tablet_id = %s AND c.name = 'screenshot' AND tb.revoked_at IS NULL
"""
COLUMNS = """
SELECT s.command_id, s.tablet_id, s.sha256, s.content_type, s.bytes, s.width, s.height,
       s.taken_at
FROM screenshots s
JOIN tablets tb ON tb.tablet_id = s.tablet_id
JOIN fleets f ON f.fleet_id = tb.fleet_id
"""
ONE = f"""{COLUMNS}
WHERE s.command_id = %(command)s AND s.tablet_id = %(tablet)s AND {IN_SCOPE}
"""
LATEST = f"""{COLUMNS}
WHERE s.tablet_id = %(tablet)s AND {IN_SCOPE}
ORDER BY s.taken_at DESC LIMIT %(limit)s
"""


async def may_upload(
    pool: AsyncConnectionPool, command_id: uuid.UUID, tablet_id: str
) -> Literal["ok", "taken", "refused"]:
    """Whether the tablet may upload this command's screenshot: ``taken`` when it did already,
    ``refused`` when it is no screenshot command of this tablet or the tablet is revoked."""
    async with pool.connection() as conn:
        cur = await conn.execute(MAY_UPLOAD, (command_id, tablet_id))
        row = await cur.fetchone()
    if row is None:
        return "refused"
    return "taken" if row[0] else "ok"


async def add(
    pool: AsyncConnectionPool,
    command_id: uuid.UUID,
    tablet_id: str,
    sha256: str,
    content_type: str,
    size: int,
    width: int,
    height: int,
) -> bool:
    """Keep the screenshot; False when the tablet may not upload it (:func:`may_upload`)."""
    params = {
        "command": command_id,
        "tablet": tablet_id,
        "sha": sha256,
        "type": content_type,
        "bytes": size,
        "width": width,
        "height": height,
    }
    async with pool.connection() as conn:
        cur = await conn.execute(ADD, params)
        return await cur.fetchone() is not None


async def one(
    pool: AsyncConnectionPool, user: User, command_id: uuid.UUID, tablet_id: str
) -> Screenshot | None:
    params = scope_params(user, command=command_id, tablet=tablet_id)
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Screenshot)) as cur:
        await cur.execute(ONE, params)
        return await cur.fetchone()


async def latest(
    pool: AsyncConnectionPool, user: User, tablet_id: str, limit: int = 3
) -> list[Screenshot]:
    """The tablet's newest screenshots first."""
    params = scope_params(user, tablet=tablet_id, limit=limit)
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Screenshot)) as cur:
        await cur.execute(LATEST, params)
        return await cur.fetchall()


# Rows past ``keep`` go; their files too, unless a kept row has the same bytes (a statement's
# sub-statements see the rows as they were before the delete, hence the age test below).
COLLECT = """
WITH gone AS (DELETE FROM screenshots WHERE taken_at < now() - %(keep)s RETURNING sha256)
SELECT DISTINCT g.sha256 FROM gone g
WHERE NOT EXISTS (SELECT 1 FROM screenshots s
                  WHERE s.sha256 = g.sha256 AND s.taken_at >= now() - %(keep)s)
"""


async def collect(pool: AsyncConnectionPool, keep: timedelta) -> list[str]:
    """Delete the screenshots taken longer than ``keep`` ago; the digests of the files no
    screenshot holds any more (for the blob store to delete after the commit)."""
    async with pool.connection() as conn:
        cur = await conn.execute(COLLECT, {"keep": keep})
        return [str(sha) for (sha,) in await cur.fetchall()]
