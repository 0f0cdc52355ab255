"""The notifier: incident events to the people subscribed, through their channels.

Hub shard 0 runs one (``hub.alerts.notify``). Each round — at once on ``NOTIFY
fleethub_alerts``, else every second — fans the new notifications out into deliveries
(store/alert_outbox.py: one per subscription and event, due after the digest window and
quiet hours), claims the due ones as messages and sends each in a task of its own, at most
:data:`CONCURRENT` at a time: a slow or failing channel holds only its own messages, never
the others or the hub. A message is tried ``alert_send_attempts`` times with growing waits
(config/retry.py); every attempt is logged in ``alert_attempts``. Messages a stopped notifier
left ``sending`` are sent again when it starts (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import httpx2 as httpx
from psycopg_pool import AsyncConnectionPool

from config.retry import attempts
from config.settings import Settings
from hub.log_limit import LogLimiter
from hub.metrics import HubMetrics
from hub.notify import render
from hub.notify.channels import Channels, SendFailed
from hub.notify.schedule import due_at
from hub.supervise import STORE_ERRORS
from store import alert_outbox
from store.alert_outbox import Message

log = logging.getLogger(__name__)
CONCURRENT = 64
POLL_S = 1.0


class Notifier:
    def __init__(self, pool: AsyncConnectionPool, settings: Settings, metrics: HubMetrics) -> None:
        self.pool, self.settings, self.metrics = pool, settings, metrics
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(CONCURRENT)
        self._limited = LogLimiter(log)
        self.sent = self.failed = 0

    def wake(self) -> None:
        """An incident event was committed (``NOTIFY fleethub_alerts``)."""
        self._wake.set()

    async def run(self) -> None:
        async with httpx.AsyncClient() as http, asyncio.TaskGroup() as tg:
            channels = Channels(self.settings, http)
            resumed = False  # the messages a stopped notifier left "sending", sent again
            while True:
                try:
                    if not resumed:
                        async with self.pool.connection() as conn:
                            left = await alert_outbox.unfinished(conn)
                        resumed = True
                        for message in left:
                            await self._spawn(tg, channels, message)
                    for message in await self.round():
                        await self._spawn(tg, channels, message)
                except STORE_ERRORS as exc:  # a store outage: the next round tries again
                    self.metrics.loop_errors["hub.alerts.notify"] += 1
                    self._limited.log(logging.WARNING, "round", "alerts not sent yet: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_S)
                self._wake.clear()

    async def round(self) -> list[Message]:
        """Fan out what is new; claim what is due."""
        now = datetime.now(UTC)
        out: list[Message] = []
        async with self.pool.connection() as conn:
            while await alert_outbox.fan_out(conn, now, due_at):
                pass
            for subscription_id in await alert_outbox.due_subscriptions(conn, now):
                out += await alert_outbox.claim(conn, subscription_id, now, render.subject)
        return out

    async def _spawn(self, tg: asyncio.TaskGroup, channels: Channels, message: Message) -> None:
        await self._slots.acquire()  # bounded: the round waits for a free slot
        tg.create_task(
            self._deliver(channels, message), name=f"hub.alerts.send-{message.message_id}"
        )

    async def _deliver(self, channels: Channels, message: Message) -> None:
        try:
            sent = await self._send(channels, message)
            async with self.pool.connection() as conn:
                await alert_outbox.finish(conn, message.message_id, sent)
            if sent:
                self.sent += 1
            else:
                self.failed += 1
        except STORE_ERRORS as exc:  # left "sending": sent again by the next notifier run
            self._limited.log(logging.WARNING, "store", "alert message not recorded: %s", exc)
        except Exception:  # a bug costs only this message
            self.metrics.handler_errors += 1
            self._limited.log(
                logging.ERROR, "bug", "alert message %d failed", message.message_id, exc_info=True
            )
        finally:
            self._slots.release()

    async def _send(self, channels: Channels, message: Message) -> bool:
        """Try until sent or out of attempts; each attempt logged."""

        async def attempt() -> int | None:
            try:
                code = await channels.send(message)
            except SendFailed as exc:
                await self._record(message, False, exc.code, exc.reason)
                raise
            await self._record(message, True, code, None)
            return code

        s = self.settings
        try:
            await attempts(
                attempt,
                on=lambda exc: isinstance(exc, SendFailed) and exc.retry,
                attempts=s.alert_send_attempts,
                wait_initial=s.alert_retry_initial_s,
                wait_max=s.alert_retry_max_s,
            )
        except SendFailed as exc:
            self._limited.log(
                logging.WARNING,
                f"failed.{message.subscription.channel}",
                "alert message %d to %s failed: %s",
                message.message_id,
                message.subscription.channel,
                exc.reason,
            )
            return False
        return True

    async def _record(
        self, message: Message, ok: bool, code: int | None, error: str | None
    ) -> None:
        async with self.pool.connection() as conn:
            await alert_outbox.record_attempt(conn, message.message_id, ok, code, error)
