"""Lead routing in the hub: store reads for the lead router, and its effects done in order.

``NOTIFY fleethub_leads '<lead_id>'`` (the public form) becomes a :class:`LeadIn` for the
lead router actor; ``NOTIFY fleethub_lead_actions '<lead_id>'`` (the panel) becomes a
:class:`Decided`. The actors' lead effects are done here one at a time, each in its own
transaction, away from the heartbeat writer: an offer is committed (with
``NOTIFY fleethub_lead_offers``) before it is pushed on ``agents/{id}/leads``, so nothing
pushed is missing from the store. A write the store disagrees with (the panel decided
first) changes nothing, and the lead is read again for the actors. Only shard 0 routes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from actors.effects import (
    LeadEffect,
    LeadOffered,
    OfferRepublished,
    OfferTimedOut,
    Publish,
)
from actors.messages import LeadIn
from config.retry import until_done
from hub.supervise import STORE_DOWN
from store import leads as lead_store
from store.leads import ACTIONS_CHANNEL, LEADS_CHANNEL, valid_ids

log = logging.getLogger(__name__)

QUEUE_BOUND = 10_000


def agent_topic(agent_id: int) -> str:
    return f"agents/{agent_id}/leads"


def offer_payload(lead: LeadIn, offered_at: datetime, expires_at: datetime) -> bytes:
    """The JSON pushed on ``agents/{id}/leads`` (docs/mqtt-contract.md)."""
    a = lead.attribution
    return json.dumps(
        {
            "v": 1,
            "event": "offered",
            "lead_id": lead.lead_id,
            "campaign_id": lead.campaign_id,
            "name": lead.name,
            "phone": lead.phone,
            "attribution": {
                "fleet_id": a.fleet_id,
                "car_id": a.car_id,
                "tablet_id": a.tablet_id,
                "driver_id": a.driver_id,
            },
            "offered_at": offered_at.isoformat(),
            "expires_at": expires_at.isoformat(),
        },
        separators=(",", ":"),
    ).encode()


def ended_payload(lead_id: str, event: str) -> bytes:
    return json.dumps({"v": 1, "event": event, "lead_id": lead_id}, separators=(",", ":")).encode()


class LeadRouting:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        to_actors: Callable[[Any], None],
        publish: Callable[[Publish], None],
    ) -> None:
        self._pool = pool
        self._to_actors = to_actors
        self._publish = publish
        self._effects: asyncio.Queue[LeadEffect] = asyncio.Queue(QUEUE_BOUND)

    # --- into the actors ------------------------------------------------------------

    async def route(self, payloads: list[str] | None) -> int:
        """Read the leads (``None``: every lead still to route) and hand them to the router."""
        ids = None if payloads is None else valid_ids(payloads)
        if ids == []:
            return 0
        async with self._pool.connection() as conn:
            leads = await lead_store.load_leads(conn, ids, datetime.now(UTC))
        for lead in leads:
            self._to_actors(lead)
        return len(leads)

    async def decided(self, payload: str) -> None:
        ids = valid_ids([payload])
        if not ids:
            return
        async with self._pool.connection() as conn:
            decision = await lead_store.load_decision(conn, ids[0])
        if decision is not None:
            self._to_actors(decision)

    async def on_notify(self, channel: str, payload: str) -> bool:
        """Handle a lead channel's NOTIFY; ``False`` for other channels."""
        if channel == LEADS_CHANNEL:
            await self.route([payload])
        elif channel == ACTIONS_CHANNEL:
            await self.decided(payload)
        else:
            return False
        return True

    # --- out of the actors ------------------------------------------------------------

    def perform(self, effect: LeadEffect) -> None:
        """Called on the event loop with each lead effect, in the actors' order."""
        try:
            self._effects.put_nowait(effect)
        except asyncio.QueueFull:
            log.error(
                "lead effects backlog full; dropped %s (re-read at the next start)",
                type(effect).__name__,
            )

    def backlog(self) -> int:
        return self._effects.qsize()

    async def run(self) -> None:
        while True:
            effect = await self._effects.get()
            try:
                await until_done(
                    functools.partial(self._store, effect),
                    on=STORE_DOWN,
                    wait_initial=0.5,
                    wait_max=10.0,
                )
            except psycopg.Error:
                log.exception("lead effect %s failed", type(effect).__name__)

    async def _store(self, effect: LeadEffect) -> None:
        try:
            await self._do(effect)
        except STORE_DOWN as exc:
            log.warning("lead effect %s not stored (%s); retrying", type(effect).__name__, exc)
            raise

    async def _do(self, effect: LeadEffect) -> None:
        if isinstance(effect, OfferRepublished):
            offer = effect.offer
            self._push(
                offer.agent_id, offer_payload(effect.lead, offer.offered_at, offer.expires_at)
            )
        elif isinstance(effect, LeadOffered):
            await self._offer(effect)
        elif isinstance(effect, OfferTimedOut):
            async with self._pool.connection(timeout=10) as conn, conn.transaction():
                closed = await lead_store.store_timeout(conn, effect.lead_id, effect.agent_id)
            if closed is not None:  # else the panel decided first: its NOTIFY tells the actors
                self._push(effect.agent_id, ended_payload(effect.lead_id, "timeout"))
        else:
            async with self._pool.connection(timeout=10) as conn, conn.transaction():
                done = await lead_store.store_unassigned(conn, effect.lead_id)
            if done:
                log.info(
                    "lead %s unassigned: every agent of its campaign was offered it", effect.lead_id
                )

    async def _offer(self, effect: LeadOffered) -> None:
        async with self._pool.connection(timeout=10) as conn, conn.transaction():
            stored = await lead_store.store_offer(conn, effect.lead, effect.agent_id, effect.cursor)
        if stored is None:  # the panel moved the lead meanwhile: tell the actors what it says
            await self.route([effect.lead.lead_id])
            return
        # Committed before the push: the store is the truth.
        self._push(
            effect.agent_id, offer_payload(effect.lead, stored.offered_at, stored.expires_at)
        )

    def _push(self, agent_id: int, payload: bytes) -> None:
        self._publish(Publish(agent_topic(agent_id), payload, qos=1, retain=False))
