"""Long-lived hub tasks that outlive store and broker errors (issue #18, item 7).

Two layers, both on stamina (jittered exponential backoff, retried until cancelled):

- :func:`retrying` repeats one step of a loop (read the next expiry, load a batch of
  tablets) until it succeeds, keeping the step's inputs, so nothing waiting on it is
  lost;
- :func:`supervised` restarts a whole task whose body raised anything but a
  cancellation, so a bug or an unforeseen error costs one iteration, never the hub.

Each failure is counted in ``HubMetrics.loop_errors`` by task name and logged (at most
once a second per task). Only cancellation (a real shutdown) ends either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiomqtt
import psycopg
import stamina
from psycopg_pool import PoolTimeout

from broker.mqttwire.errors import MqttWireError
from hub.metrics import HubMetrics

log = logging.getLogger(__name__)

T = TypeVar("T")

STORE_ERRORS: tuple[type[Exception], ...] = (psycopg.Error, PoolTimeout)
# The store cannot be reached (as opposed to a statement it refuses): retried, never dropped.
STORE_DOWN: tuple[type[Exception], ...] = (psycopg.OperationalError, PoolTimeout)
BROKER_ERRORS: tuple[type[Exception], ...] = (aiomqtt.MqttError, MqttWireError, OSError)
TRANSIENT = STORE_ERRORS + BROKER_ERRORS

WAIT_INITIAL_S = 0.2
WAIT_MAX_S = 10.0

_last_logged: dict[str, float] = {}


def _count(metrics: HubMetrics, name: str, exc: BaseException, unexpected: bool) -> None:
    metrics.loop_errors[name] += 1
    now = time.monotonic()
    if now - _last_logged.get(name, 0.0) < 1.0:
        return
    _last_logged[name] = now
    if unexpected:
        log.error("%s failed; restarting it", name, exc_info=exc)
    else:
        log.warning("%s: %s: %s; retrying", name, type(exc).__name__, exc)


async def retrying(name: str, metrics: HubMetrics, step: Callable[[], Awaitable[T]]) -> T:
    """``await step()`` until it returns, retrying store and broker errors with backoff."""
    async for attempt in stamina.retry_context(
        on=TRANSIENT,
        attempts=None,
        timeout=None,
        wait_initial=WAIT_INITIAL_S,
        wait_max=WAIT_MAX_S,
    ):
        with attempt:
            try:
                return await step()
            except TRANSIENT as exc:
                _count(metrics, name, exc, unexpected=False)
                raise
    raise AssertionError("unreachable: retried without a limit")  # pragma: no cover


async def supervised(name: str, metrics: HubMetrics, body: Callable[[], Awaitable[None]]) -> None:
    """Run ``body`` until cancelled; restart it (with backoff) whenever it ends otherwise."""
    async for attempt in stamina.retry_context(
        on=Exception,
        attempts=None,
        timeout=None,
        wait_initial=WAIT_INITIAL_S,
        wait_max=WAIT_MAX_S,
    ):
        with attempt:
            try:
                await body()
            except Exception as exc:
                _count(metrics, name, exc, unexpected=not isinstance(exc, TRANSIENT))
                raise
            ended = RuntimeError(f"{name} returned")  # a loop never ends by itself
            _count(metrics, name, ended, unexpected=True)
            raise ended
