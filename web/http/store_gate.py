"""The panel's view of whether the store answers, and a pool that fails fast while it does not.

A store outage must not hold requests for the pool's timeout: the first request that
finds the store gone (a pool timeout, a broken connection) makes the gate *suspect* it,
a probe confirms it within milliseconds, and from then on every ``getconn`` raises
:class:`StoreUnavailable` at once (answered 503 + ``Retry-After`` by web/app.py). While
the store is away the gate probes it with a plain connection every ``probe_interval_s``
(the pool's own reconnect attempts back off for tens of seconds); once a probe gets in,
the pool drops its broken connections (:meth:`AsyncConnectionPool.check`), one query
through the pool proves it usable, and the gate opens again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from store.db import ping, pool_options

log = logging.getLogger(__name__)


class StoreUnavailable(PoolTimeout):
    """The gate knows the store is away: no connection was attempted.

    A :class:`PoolTimeout` (so an ``OperationalError``), so code that already copes
    with an outage copes with this too."""


class StoreGate:
    def __init__(
        self, database_url: str, probe_interval_s: float = 0.2, probe_timeout_s: float = 1.0
    ) -> None:
        self._url = database_url
        self.probe_interval_s = probe_interval_s
        self.probe_timeout_s = probe_timeout_s
        self.available = True
        self.outages = 0  # times the gate closed
        self.closed_at: float | None = None  # time.monotonic() of the last closing
        self._suspect = asyncio.Event()
        self._closed = asyncio.Event()
        self.pool: GatedPool | None = None

    def check(self) -> None:
        if not self.available:
            raise StoreUnavailable("the store is unavailable")

    def suspect(self) -> None:
        """Something failed on the store: probe it now (the watcher decides)."""
        self._suspect.set()

    async def closed(self) -> None:
        await self._closed.wait()

    async def check_connection(self, conn: AsyncConnection[Any]) -> None:
        """The pool's check before it hands a connection out; a broken one is suspicious."""
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            self.suspect()
            raise

    async def run(self) -> None:
        """The watcher: a probe on suspicion; while the store is away, probes until it is back."""
        while True:
            await self._suspect.wait()
            self._suspect.clear()
            while not await self._probe():
                if self.available:
                    self.available = False
                    self._closed.set()
                    self.outages += 1
                    self.closed_at = time.monotonic()
                    log.error("store unavailable: panel requests answer 503 until it is back")
                await asyncio.sleep(self.probe_interval_s)
            if not self.available:
                self.available = True
                self._closed.clear()
                away = time.monotonic() - (self.closed_at or time.monotonic())
                log.warning("store is back after %.1f s; panel requests served again", away)

    async def _probe(self) -> bool:
        try:
            async with asyncio.timeout(self.probe_timeout_s * 2):
                conn = await AsyncConnection.connect(
                    self._url, autocommit=True, connect_timeout=max(1, round(self.probe_timeout_s))
                )
                async with conn:
                    await ping(conn)
                if self.pool is not None and not self.available:
                    await self.pool.refresh(self.probe_timeout_s)
        except (psycopg.Error, TimeoutError, OSError):
            return False
        return True


class GatedPool(AsyncConnectionPool):
    """A pool whose ``getconn`` raises :class:`StoreUnavailable` at once while the gate is
    closed, and whose failures make the gate suspect the store."""

    def __init__(self, *args: Any, gate: StoreGate, **kwargs: Any) -> None:
        super().__init__(*args, reconnect_failed=lambda _pool: gate.suspect(), **kwargs)
        self.gate = gate
        gate.pool = self

    async def getconn(self, timeout: float | None = None) -> Any:
        """A connection, or StoreUnavailable as soon as the gate closes meanwhile (the
        pool alone would wait out its timeout, retrying connections the outage broke)."""
        self.gate.check()
        getting = asyncio.ensure_future(super().getconn(timeout))
        closing = asyncio.ensure_future(self.gate.closed())
        try:
            await asyncio.wait((getting, closing), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # the caller was cancelled: no connection may be lost
            getting.cancel()
            with contextlib.suppress(BaseException):
                await super().putconn(await getting)
            raise
        finally:
            closing.cancel()
        if not getting.done():
            getting.cancel()
            with contextlib.suppress(asyncio.CancelledError, PoolTimeout):
                return await getting  # it got one at the last moment
            raise StoreUnavailable("the store is unavailable")
        try:
            return getting.result()
        except PoolTimeout:
            self.gate.suspect()
            raise

    async def putconn(self, conn: Any) -> None:
        if conn.broken or conn.closed:
            self.gate.suspect()
        await super().putconn(conn)

    async def refresh(self, timeout: float) -> None:
        """After an outage: drop the connections it broke, then prove one new one."""
        await self.check()
        conn = await super().getconn(timeout)
        try:
            await ping(conn)
        finally:
            await super().putconn(conn)


def open_gated_pool(
    database_url: str, gate: StoreGate, timeout_s: float, max_size: int = 8
) -> GatedPool:
    """The panel's pool, created closed. Requests wait at most ``timeout_s`` for a
    connection; each is checked before it is handed out (so a connection the store broke
    is never used), and a failed reconnect gives up after a second instead of backing
    off for minutes: the gate reconnects the pool as soon as its probe gets in."""
    options = pool_options(max_size)
    options["kwargs"] = {**options["kwargs"], "connect_timeout": 2}
    return GatedPool(
        database_url,
        gate=gate,
        timeout=timeout_s,
        reconnect_timeout=1.0,
        check=gate.check_connection,
        **options,
    )
