"""Agents' live inbox: one LISTEN connection per web process, one bounded queue per subscriber.

The connection is :func:`store.listen.listen`'s, reconnected with backoff; after each
reconnect every subscriber is told to resync (notifications sent meanwhile are lost).

``fleethub_lead_offers`` (the hub offered a lead, or an offer timed out and moved on) and
``fleethub_lead_actions`` (an agent acted, here or in another process) carry a lead id. For
each, the agents concerned (the open offer's, the lead's holder, those offered it before) are
sent what they now see: an :class:`OfferMade` to the agent of a new open offer, a
:class:`LeadChanged` to the others (``lead`` None once the lead left their inbox). A
subscriber that falls behind is marked overflowed and told to resync, like the grid's feed.
Other parts of the process (the Web Push sender) register ``on_offer`` callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg_pool import AsyncConnectionPool

from store import lead_inbox
from store.lead_inbox import AgentLead
from store.leads import ACTIONS_CHANNEL, OFFERS_CHANNEL
from store.listen import listen
from store.users import User
from web.agents import inbox as agent_leads
from web.live.feed import Subscribers, Subscription

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OfferMade:
    lead: AgentLead


@dataclass(frozen=True, slots=True)
class LeadChanged:
    lead_id: uuid.UUID
    lead: AgentLead | None  # None: no longer in this agent's inbox


LeadEvent = OfferMade | LeadChanged


@dataclass(frozen=True, slots=True)
class Resync:
    """The subscriber may have missed events (the LISTEN connection was lost)."""


class LeadFeed:
    def __init__(self, pool: AsyncConnectionPool, database_url: str) -> None:
        self._pool, self._url = pool, database_url
        self._subscribers = Subscribers[LeadEvent | Resync](maxsize=64)
        self.on_offer: list[Callable[[uuid.UUID], None]] = []
        self.listening = asyncio.Event()
        self._connected_before = False

    @property
    def overflows(self) -> int:
        return self._subscribers.overflows

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(
        self, user: User
    ) -> contextlib.AbstractContextManager[Subscription[LeadEvent | Resync]]:
        return self._subscribers.subscribe(user)

    async def run(self) -> None:
        self._connected_before = False
        await listen(
            self._url,
            [OFFERS_CHANNEL, ACTIONS_CHANNEL],
            self._handle,
            name="web.lead_feed.listen",
            on_connected=self._on_listening,
            on_lost=self._on_lost,
        )

    async def _on_listening(self) -> None:
        self.listening.set()
        if self._connected_before:  # notifications sent meanwhile are lost
            for sub in self._subscribers:
                sub.offer(Resync())
        self._connected_before = True

    def _on_lost(self, exc: BaseException) -> None:
        self.listening.clear()

    async def _handle(self, channel: str, payload: str) -> None:
        lead_id = agent_leads.parse_id(payload)
        if lead_id is None:
            log.warning("lead feed: %s payload is not a lead id: %r", channel, payload[:80])
            return
        if channel == OFFERS_CHANNEL:
            for callback in self.on_offer:
                callback(lead_id)
        if not self._subscribers:
            return
        try:
            await self._dispatch(channel, lead_id)
        except psycopg.Error as exc:
            log.warning("lead feed: store unavailable (%s); subscribers resync", exc)
            for sub in self._subscribers:
                sub.offer(Resync())

    async def _dispatch(self, channel: str, lead_id: uuid.UUID) -> None:
        async with self._pool.connection() as conn:
            concerned, open_to = await lead_inbox.concerned_agents(conn, lead_id)
        views: dict[int, AgentLead | None] = {}
        for sub in self._subscribers:
            agent_id = sub.user.user_id
            if agent_id not in concerned or sub.user.role != "agent":
                continue
            if agent_id not in views:
                views[agent_id] = await agent_leads.get(self._pool, sub.user, lead_id)
            lead = views[agent_id]
            if channel == OFFERS_CHANNEL and agent_id in open_to and lead and lead.offered:
                sub.offer(OfferMade(lead))
            else:
                sub.offer(LeadChanged(lead_id, lead))
