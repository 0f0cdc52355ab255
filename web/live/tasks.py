"""The panel's long-lived tasks (change feed, lead feed, Web Push sender, broker link…).

Each runs under :func:`supervise`: an error from the store or the broker (or a bug) is
logged, counted in :attr:`Supervisor.restarts` and the task is started again after a
jittered, growing delay; only the lifespan's end (cancellation) stops it. A task that
returns (a one-shot job such as warming the tile cache) is done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from types import TracebackType

import psycopg

from config.errors import BrokerError
from config.retry import reconnecting

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]
OUTAGES = (psycopg.OperationalError, BrokerError, OSError, TimeoutError)


def _outage(exc: BaseException) -> bool:
    """A store or broker error, alone or all the errors of a task group."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_outage(e) for e in exc.exceptions)
    return isinstance(exc, OUTAGES)


class Supervisor:
    """Named tasks tracked until :meth:`aclose` (``async with``) cancels and awaits them."""

    def __init__(self, first_delay_s: float = 0.5, max_delay_s: float = 30.0) -> None:
        self.first_delay_s, self.max_delay_s = first_delay_s, max_delay_s
        self.restarts: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, name: str, job: Job) -> None:
        task = asyncio.create_task(self.supervise(name, job), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._ended)

    async def supervise(self, name: str, job: Job) -> None:
        async def run(up: Callable[[], None]) -> None:
            started = time.monotonic()
            try:
                await job()
            except Exception as exc:
                if _outage(exc):
                    log.warning("%s stopped on %s: %s; restarting", name, type(exc).__name__, exc)
                else:
                    log.exception("%s failed; restarting", name)
                self.restarts[name] += 1
                if time.monotonic() - started > self.max_delay_s:
                    up()  # it ran well for a while: the delays start over
                raise

        await reconnecting(
            run, on=(Exception,), wait_initial=self.first_delay_s, wait_max=self.max_delay_s
        )

    def running(self) -> set[str]:
        return {task.get_name() for task in self._tasks if not task.done()}

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s ended: %r", task.get_name(), exc)  # only BaseException gets here

    async def aclose(self, timeout_s: float = 10.0) -> None:
        """Cancel every task and wait for them, at most ``timeout_s``: a task that does not
        end by then is named in the log, and shutdown goes on without it."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        if pending:
            log.error(
                "shutdown: %s did not stop within %.0f s",
                ", ".join(sorted(t.get_name() for t in pending)),
                timeout_s,
            )

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
