"""Web Push of lead offers to agents' browsers, at most once per offer and browser.

Woken by each ``fleethub_lead_offers`` NOTIFY (through the process's
:class:`~web.agents.inbox_feed.LeadFeed`) and by a periodic sweep, the sender:

1. enqueues one ``push_deliveries`` row per open offer and subscription of its agent (any
   number of web processes enqueue the same rows once);
2. claims due rows, skipping rows another process has locked, counting the attempt and
   leasing the row (``next_at`` moves past the send timeout) in the same short transaction,
   so another process cannot send it meanwhile;
3. sends each with pywebpush (VAPID, aes128gcm, a TTL of the offer's remaining time,
   ``Urgency: high``), payload ``{lead_id, name, campaign, url}``;
4. records the outcome: sent; or retried after ``base_backoff_s * 2**(attempts-1)`` up to
   ``max_attempts``; or the subscription deleted when the push service answers 404/410 (the
   browser unsubscribed); or given up when the offer closed before it could be sent.

The statements are :mod:`store.web_push`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass

import aiohttp
import psycopg
from psycopg_pool import AsyncConnectionPool
from py_vapid import Vapid  # type: ignore[import-untyped]
from pywebpush import WebPushException, webpush_async  # type: ignore[import-untyped]

from store import web_push as pushes
from store.web_push import Delivery
from web.agents.web_push import VapidKey

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int | None  # the push service's answer, None when it gave none
    error: str | None = None


class PushSender:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        key: VapidKey,
        subject: str,
        *,
        sweep_s: float = 30.0,
        max_attempts: int = 6,
        base_backoff_s: float = 5.0,
        timeout_s: float = 10.0,
        batch: int = 50,
    ) -> None:
        self._pool, self._subject = pool, subject
        self._vapid = Vapid(private_key=key.private_key)
        self.sweep_s, self.max_attempts = sweep_s, max_attempts
        self.base_backoff_s, self.timeout_s, self.batch = base_backoff_s, timeout_s, batch
        self._wake = asyncio.Event()
        self.outcomes: Counter[str] = Counter()  # sent, gone, retried, gave_up, closed

    def wake(self, _lead_id: uuid.UUID | None = None) -> None:
        """A new offer (or anything worth a look now): enqueue and send at once."""
        self._wake.set()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            wait = 0.0
            while True:
                with contextlib.suppress(TimeoutError):  # not wait_for: 3.11's may eat a cancel
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                self._wake.clear()
                try:
                    await self.enqueue()
                    while await self.send_due(http) == self.batch:
                        pass
                    wait = await self._until_next_due()
                except psycopg.Error as exc:
                    log.warning("push sender: store unavailable (%s); retrying", exc)
                    wait = 1.0

    async def enqueue(self) -> int:
        async with self._pool.connection() as conn:
            return await pushes.enqueue(conn)

    async def _until_next_due(self) -> float:
        async with self._pool.connection() as conn:
            due = await pushes.until_next_due(conn)
        if due is None:
            return self.sweep_s
        return min(self.sweep_s, max(0.0, due.total_seconds()))

    async def send_due(self, http: aiohttp.ClientSession) -> int:
        """Claim the due deliveries and send them; how many were claimed."""
        lease = self.timeout_s * 2 + 5
        async with self._pool.connection() as conn:
            claimed = await pushes.claim(conn, self.batch, lease)
        if claimed:
            async with asyncio.TaskGroup() as tg:
                for d in claimed:
                    tg.create_task(self._deliver(http, d), name="web.push.deliver")
        return len(claimed)

    async def _deliver(self, http: aiohttp.ClientSession, d: Delivery) -> None:
        if not d.open:
            self.outcomes["closed"] += 1
            async with self._pool.connection() as conn:
                await pushes.give_up(conn, d.delivery_id, "the offer closed before it was sent")
            return
        outcome = await self._send(http, d)
        if outcome.ok:
            self.outcomes["sent"] += 1
            async with self._pool.connection() as conn:
                await pushes.sent(conn, d.delivery_id, d.endpoint)
        elif outcome.status in (404, 410):
            self.outcomes["gone"] += 1
            log.info(
                "push sender: %s is gone (%s); subscription removed",
                d.endpoint[:60],
                outcome.status,
            )
            async with self._pool.connection() as conn:
                await pushes.forget(conn, d.endpoint)
        elif d.attempts >= self.max_attempts:
            self.outcomes["gave_up"] += 1
            log.warning(
                "push sender: giving up on delivery %s after %s attempts: %s",
                d.delivery_id,
                d.attempts,
                outcome.error,
            )
            async with self._pool.connection() as conn:
                await pushes.give_up(conn, d.delivery_id, outcome.error, d.endpoint)
        else:
            self.outcomes["retried"] += 1
            delay = self.base_backoff_s * 2 ** (d.attempts - 1)
            async with self._pool.connection() as conn:
                await pushes.retry(conn, d.delivery_id, delay, outcome.error, d.endpoint)
            self._wake.set()  # recompute the next due time

    async def _send(self, http: aiohttp.ClientSession, d: Delivery) -> Outcome:
        payload = {
            "lead_id": str(d.lead_id),
            "name": d.name,
            "campaign": d.campaign,
            "url": "/agent/leads#lead-" + str(d.lead_id),
        }
        try:
            response = await webpush_async(
                subscription_info={
                    "endpoint": d.endpoint,
                    "keys": {"p256dh": d.p256dh, "auth": d.auth},
                },
                data=json.dumps(payload),
                vapid_private_key=self._vapid,
                vapid_claims={"sub": self._subject},
                ttl=d.ttl_s,
                headers={"Urgency": "high", "Topic": d.lead_id.hex},
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                aiohttp_session=http,
            )
        except WebPushException as exc:
            status = exc.response.status if exc.response is not None else None
            return Outcome(False, status, f"push service answered {status}")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500])
        return Outcome(True, int(response.status))
