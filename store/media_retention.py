"""Collecting media no playlist references (``FLEETHUB_MEDIA_RETENTION_DAYS``).

A media version a playlist or a campaign holds is never deleted (``playlist_items`` and
``campaign_creatives`` reference it; the store refuses the delete), and playlists hold the
assignments and pushes that name them.
Past the retention period, what nothing holds goes: earlier versions uploaded that long ago,
then media whose every version is unreferenced and that nobody uploaded to or edited for
that long, then the files no version of any tenant holds any more — whose digests are
returned for the blob store to delete after the commit (media/blobs.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg

UNREFERENCED = """
NOT EXISTS (SELECT 1 FROM playlist_items pi
            WHERE pi.tenant_id = v.tenant_id AND pi.media_id = v.media_id
              AND pi.media_version = v.version)
AND NOT EXISTS (SELECT 1 FROM campaign_creatives cc
                WHERE cc.tenant_id = v.tenant_id AND cc.media_id = v.media_id
                  AND cc.media_version = v.version)
"""

OLD_VERSIONS = f"""
DELETE FROM media_versions v USING media m
WHERE m.tenant_id = v.tenant_id AND m.media_id = v.media_id AND v.version <> m.version
  AND v.uploaded_at < now() - %(keep)s AND {UNREFERENCED}
"""  # noqa: S608 - constant fragments only

IDLE_MEDIA = f"""
DELETE FROM media m
WHERE m.updated_at < now() - %(keep)s
  AND NOT EXISTS (SELECT 1 FROM media_versions v
                  WHERE v.tenant_id = m.tenant_id AND v.media_id = m.media_id
                    AND (v.uploaded_at >= now() - %(keep)s OR NOT {UNREFERENCED}))
RETURNING m.tenant_id, m.media_id, m.name
"""  # noqa: S608 - constant fragments only

ORPHAN_FILES = """
DELETE FROM media_blobs b
WHERE NOT EXISTS (SELECT 1 FROM media_versions v WHERE v.sha256 = b.sha256)
RETURNING b.sha256
"""


async def collect(conn: psycopg.AsyncConnection[Any], keep: timedelta) -> tuple[int, list[str]]:
    """Delete what is unreferenced past ``keep`` (one transaction): the media items deleted
    and the digests of the files no longer held."""
    async with conn.transaction():
        await conn.execute(OLD_VERSIONS, {"keep": keep})
        media = await (await conn.execute(IDLE_MEDIA, {"keep": keep})).fetchall()
        for tenant_id, media_id, name in media:
            await conn.execute(
                "INSERT INTO audit_log (tenant_id, actor, action, target, details) VALUES"
                " (%s, 'retention', 'media.collect', %s, jsonb_build_object('name', %s::text))",
                (tenant_id, f"media:{media_id}", name),
            )
        files = [str(r[0]) for r in await (await conn.execute(ORPHAN_FILES)).fetchall()]
    return len(media), files
