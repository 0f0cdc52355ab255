"""Rate limits in the store, shared by every panel process: a ``limits`` storage on PostgreSQL.

The panel's only shared state is PostgreSQL (no Redis or memcached), so sign-in and lead
form budgets live in the UNLOGGED table ``rate_limits`` (migration 0014): one row per key.
:class:`RateLimitStore` is a ``limits`` async storage with moving-window support (the
strategy web/auth/throttle.py and web/leads/form_limits.py use) and plain fixed-window
counters; it also keeps the per-key failures and ``not_before`` of sign-in's growing
delay, whose policy stays in the caller (``failed`` is handed ``delay_for``).

Time is the store's clock (``now()``), so processes on several hosts count alike. Rows
whose ``expires_at`` has passed count as absent and are deleted at most once a minute.
Store errors are raised (``psycopg.Error``, ``PoolTimeout``); the callers decide whether a
limit fails open or closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import psycopg
from limits.aio.storage import MovingWindowSupport, Storage
from psycopg_pool import AsyncConnectionPool, PoolTimeout

CLEANUP_EVERY_S = 60.0

_ACQUIRE = """
INSERT INTO rate_limits AS r (key, hits, expires_at)
VALUES (%(key)s, array_fill(extract(epoch FROM now())::float8, ARRAY[%(amount)s]),
        now() + %(expiry)s)
ON CONFLICT (key) DO UPDATE
SET hits = excluded.hits || r.hits[1:%(limit)s - %(amount)s],
    expires_at = excluded.expires_at
WHERE coalesce(r.hits[%(limit)s - %(amount)s + 1] < extract(epoch FROM now()) - %(seconds)s,
               true)
RETURNING 1
"""

_WINDOW = """
SELECT extract(epoch FROM now())::float8, min(h), count(h)::int
FROM rate_limits AS r CROSS JOIN LATERAL unnest(r.hits) AS h
WHERE r.key = %(key)s AND h >= extract(epoch FROM now()) - %(seconds)s
"""

_INCR = """
INSERT INTO rate_limits AS r (key, counter, expires_at)
VALUES (%(key)s, %(amount)s, now() + %(expiry)s)
ON CONFLICT (key) DO UPDATE
SET counter = CASE WHEN r.expires_at <= now() THEN excluded.counter
                   ELSE r.counter + excluded.counter END,
    expires_at = CASE WHEN r.expires_at <= now() THEN excluded.expires_at
                      ELSE r.expires_at END
RETURNING counter
"""

_FAILED = """
INSERT INTO rate_limits AS r (key, failures, expires_at)
VALUES (%(key)s, 1, now() + %(forget)s)
ON CONFLICT (key) DO UPDATE
SET failures = CASE WHEN r.expires_at <= now() THEN 1 ELSE r.failures + 1 END,
    expires_at = excluded.expires_at
RETURNING failures
"""


class RateLimitStore(Storage, MovingWindowSupport):
    """Counts of the table ``rate_limits``, reached through the panel's pool."""

    STORAGE_SCHEME = None  # made with a pool, never from a URI

    def __init__(self, pool: AsyncConnectionPool, timeout_s: float = 5.0) -> None:
        super().__init__()
        self.pool, self.timeout_s = pool, timeout_s
        self._cleaned = time.monotonic()

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return (psycopg.Error, PoolTimeout)

    async def _one(self, query: str, params: dict[str, object]) -> tuple[object, ...] | None:
        async with self.pool.connection(timeout=self.timeout_s) as conn:
            if time.monotonic() - self._cleaned > CLEANUP_EVERY_S:
                self._cleaned = time.monotonic()
                await conn.execute("DELETE FROM rate_limits WHERE expires_at < now()")
            return await (await conn.execute(query, params)).fetchone()

    # --- moving windows (limits.aio.strategies.MovingWindowRateLimiter) ------------------

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        row = await self._one(
            _ACQUIRE,
            {
                "key": key,
                "limit": limit,
                "amount": amount,
                "expiry": timedelta(seconds=expiry),
                "seconds": expiry,
            },
        )
        return row is not None

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        row = await self._one(_WINDOW, {"key": key, "seconds": expiry})
        assert row is not None
        now, oldest, count = row
        assert isinstance(now, float)
        assert isinstance(count, int)
        return (oldest if isinstance(oldest, float) else now), count

    # --- fixed windows (required of every limits storage) --------------------------------

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        row = await self._one(
            _INCR, {"key": key, "amount": amount, "expiry": timedelta(seconds=expiry)}
        )
        assert row is not None
        assert isinstance(row[0], int)
        return row[0]

    async def get(self, key: str) -> int:
        row = await self._one(
            "SELECT counter FROM rate_limits WHERE key = %(key)s AND expires_at > now()",
            {"key": key},
        )
        return int(row[0]) if row is not None and isinstance(row[0], int) else 0

    async def get_expiry(self, key: str) -> float:
        row = await self._one(
            "SELECT extract(epoch FROM coalesce((SELECT expires_at FROM rate_limits"
            " WHERE key = %(key)s AND expires_at > now()), now()))::float8",
            {"key": key},
        )
        assert row is not None
        assert isinstance(row[0], float)
        return row[0]

    async def check(self) -> bool:
        try:
            await self._one("SELECT 1", {})
        except self.base_exceptions:
            return False
        return True

    async def reset(self) -> int | None:
        async with self.pool.connection(timeout=self.timeout_s) as conn:
            return (await conn.execute("DELETE FROM rate_limits")).rowcount

    async def clear(self, key: str) -> None:
        await self._one("DELETE FROM rate_limits WHERE key = %(key)s RETURNING 1", {"key": key})

    # --- growing delays (sign-in per account and address) --------------------------------

    async def delay_left(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now (or it is unknown)."""
        row = await self._one(
            "SELECT greatest(0, extract(epoch FROM not_before - now()))::float8"
            " FROM rate_limits WHERE key = %(key)s AND expires_at > now()"
            " AND not_before IS NOT NULL",
            {"key": key},
        )
        return row[0] if row is not None and isinstance(row[0], float) else 0.0

    async def failed(self, key: str, delay_for: Callable[[int], float], forget_s: float) -> float:
        """Count a failure of ``key`` (from zero again after ``forget_s`` of quiet); the next
        try waits ``delay_for(failures)`` seconds, which this returns."""
        async with self.pool.connection(timeout=self.timeout_s) as conn, conn.transaction():
            cur = await conn.execute(_FAILED, {"key": key, "forget": timedelta(seconds=forget_s)})
            row = await cur.fetchone()
            assert row is not None
            assert isinstance(row[0], int)
            delay = delay_for(row[0])
            await conn.execute(
                "UPDATE rate_limits SET not_before = now() + %(delay)s WHERE key = %(key)s",
                {"key": key, "delay": timedelta(seconds=delay)},
            )
        return delay
