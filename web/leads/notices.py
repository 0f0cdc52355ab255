"""Admins' notices of leads nobody answered, live on every admin page.

The hub's lead routing NOTIFYs ``fleethub_lead_offers`` whenever a lead's offers move, also
when it ends ``unassigned`` (store/leads.py). :class:`Notices` hooks the panel's
:class:`~web.agents.inbox_feed.LeadFeed` (its ``on_offer`` callbacks, no second LISTEN), reads
each such lead once, and sends the admins of its tenant the tenant's count of unanswered
leads, with the lead when it just became unassigned. ``/notices/leads`` (SSE, admins only)
starts with the count; ``web/static/notices.js`` keeps one stream per browser (a Web Lock
elects the tab that holds it, a BroadcastChannel shares what it hears) and shows a notice
with a one-click re-offer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi import APIRouter, Request
from psycopg_pool import AsyncConnectionPool
from sse_starlette.sse import EventSourceResponse

from store import lead_listing
from store.users import User
from web.deps import AdminLogin, PoolDep
from web.live.feed import Subscribers, Subscription

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
QUEUE = 1000


@dataclass(frozen=True, slots=True)
class Notice:
    count: int
    lead: dict[str, str] | None  # set when this lead just became unassigned


class Notices:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._subscribers = Subscribers[Notice](maxsize=64)
        self._leads: asyncio.Queue[uuid.UUID] = asyncio.Queue(QUEUE)

    def on_offer(self, lead_id: uuid.UUID) -> None:
        """A LeadFeed callback: the lead's offers moved (read by :meth:`run`)."""
        if self._subscribers:
            try:
                self._leads.put_nowait(lead_id)
            except asyncio.QueueFull:
                log.warning("lead notices: backlog full, lead %s not read", lead_id)

    def subscribe(self, user: User) -> contextlib.AbstractContextManager[Subscription[Notice]]:
        return self._subscribers.subscribe(user)

    async def run(self) -> None:
        while True:
            lead_id = await self._leads.get()
            try:
                await self._notify(lead_id)
            except psycopg.Error as exc:
                log.warning("lead notices: store unavailable (%s); lead %s skipped", exc, lead_id)

    async def _notify(self, lead_id: uuid.UUID) -> None:
        async with self._pool.connection() as conn:
            found = await lead_listing.notice(conn, lead_id)
            if found is None:
                return
            count = await lead_listing.unassigned(conn, found.tenant_id)
        lead = None
        if found.status == "unassigned":
            lead = {
                "lead_id": str(found.lead_id),
                "name": found.name,
                "campaign": found.campaign_name,
            }
        for sub in self._subscribers:
            if sub.user.tenant_id == found.tenant_id and sub.user.is_admin:
                sub.offer(Notice(count, lead))


@router.get("/notices/leads")
async def notices_stream(request: Request, pool: PoolDep, login: AdminLogin) -> EventSourceResponse:
    """``count`` events: the tenant's unanswered leads (and the lead that just became one)."""
    notices: Notices = request.app.state.lead_notices
    async with pool.connection() as conn:
        count = await lead_listing.unassigned(conn, login.user.tenant_id)

    async def events() -> AsyncIterator[dict[str, Any]]:
        with notices.subscribe(login.user) as sub:
            yield {"event": "count", "data": json.dumps({"count": count, "lead": None})}
            while True:
                notice = await sub.queue.get()
                if sub.overflowed:
                    yield {"event": "resync", "data": "{}"}
                    return
                data = {"count": notice.count, "lead": notice.lead}
                yield {"event": "count", "data": json.dumps(data)}

    return EventSourceResponse(events(), ping=15, send_timeout=10)
