"""One ``LISTEN`` connection, reconnected with jittered backoff: every listener of hub and panel.

:func:`listen` opens an autocommit connection, ``LISTEN``s on its channels, awaits the
caller's ``on_connected`` (load or resync what may have changed unheard), then hands each
notification to ``on_notify`` as ``(channel, payload)``. When the connection is lost (or
another error in ``on`` comes out of a hook) it is logged, passed to ``on_lost``, and the
session starts again after :func:`config.retry.reconnecting`'s delay, which starts over
once ``on_connected`` has returned. Any other error, and cancellation, ends the listener:
the caller's supervisor decides what comes next.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import psycopg
from psycopg import sql

from config.retry import Errors, reconnecting

log = logging.getLogger(__name__)

LISTEN = sql.SQL("LISTEN {}")

WAIT_INITIAL_S = 0.5
WAIT_MAX_S = 10.0
CONNECT_TIMEOUT_S = 10

OnNotify = Callable[[str, str], Awaitable[None]]
OnConnected = Callable[[], Awaitable[None]]
OnLost = Callable[[BaseException], None]


async def _nothing() -> None:
    return None


async def listen(
    database_url: str,
    channels: Sequence[str],
    on_notify: OnNotify,
    *,
    name: str,
    on_connected: OnConnected = _nothing,
    on_lost: OnLost | None = None,
    on: Errors = (psycopg.OperationalError,),
    wait_initial: float = WAIT_INITIAL_S,
    wait_max: float = WAIT_MAX_S,
) -> None:
    """``LISTEN`` on ``channels`` until cancelled, reconnecting after each error in ``on``."""

    async def session(up: Callable[[], None]) -> None:
        try:
            async with await psycopg.AsyncConnection.connect(
                database_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            ) as conn:
                for channel in channels:
                    await conn.execute(LISTEN.format(sql.Identifier(channel)))
                await on_connected()
                up()
                async for note in conn.notifies():
                    await on_notify(note.channel, note.payload)
        except on as exc:
            log.warning(
                "%s: LISTEN connection lost (%s: %s); reconnecting", name, type(exc).__name__, exc
            )
            if on_lost is not None:
                on_lost(exc)
            raise

    await reconnecting(session, on=on, wait_initial=wait_initial, wait_max=wait_max)
