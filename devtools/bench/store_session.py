"""One store connection for a synchronous benchmark: the store is async, the bench loops are
not, so an ``asyncio.Runner`` keeps one event loop and one connection across the calls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, TypeVar

import psycopg

from store import db

T = TypeVar("T")
Conn = psycopg.AsyncConnection[tuple[Any, ...]]


class StoreSession:
    """``with StoreSession(url) as store: store.run(lambda conn: probe(conn))``."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._runner = asyncio.Runner()
        self._stack = AsyncExitStack()
        self._conn: Conn | None = None

    def __enter__(self) -> StoreSession:
        try:
            self._conn = self._runner.run(
                self._stack.enter_async_context(db.connect(self.database_url))
            )
        except BaseException:
            self._runner.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._runner.run(self._stack.aclose())
        finally:
            self._runner.close()

    def run(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """Run one piece of store work on the connection, to completion."""
        assert self._conn is not None, "use StoreSession in a with block"
        conn = self._conn

        async def call() -> T:
            return await work(conn)

        return self._runner.run(call())
