"""What the tablets' download route needs from the store, looked up once for many requests.

When a fleet downloads a new file, every tablet asks at once: hundreds of requests within a
second, each for the same file of the same tenant. The route's lookups — the file's size and
type in the tenant's library, and the tenant's revoked tablets — are shared by concurrent
requests and kept a few seconds (async-lru), so a download costs no store round trip and the
pool stays free. A tablet revoked (or a file deleted) a moment ago is refused within
:data:`TTL_S`.
"""

from __future__ import annotations

from async_lru import alru_cache
from psycopg_pool import AsyncConnectionPool

from store import media as media_store

TTL_S = 5.0


class DownloadAccess:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self.file = alru_cache(maxsize=4096, ttl=TTL_S)(self._file)
        self.revoked = alru_cache(maxsize=1024, ttl=TTL_S)(self._revoked)

    async def _file(self, tenant_id: str, sha256: str) -> tuple[int, str] | None:
        """The size and type of the file when a media version of the tenant holds it."""
        async with self._pool.connection() as conn:
            return await media_store.tenant_file(conn, tenant_id, sha256)

    async def _revoked(self, tenant_id: str) -> frozenset[str]:
        async with self._pool.connection() as conn:
            return await media_store.revoked_tablets(conn, tenant_id)
