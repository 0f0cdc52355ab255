"""The lead router actor: one per hub (shard 0), created at setup like the registry.

It holds, per campaign, the active agents in order and the round-robin cursor, and per
lead the agents tried and the one holding the offer (:class:`actors.rules.lead_book.LeadBook`).
It creates one :class:`actors.system.agent.AgentActor` per agent on demand, keyed by user id.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from actors.effects import LeadUnassigned
from actors.messages import AgentInit, Batch, Decided, LeadIn, Offer, OfferEnded, Setup, Withdraw
from actors.rules.lead_book import LeadBook, OfferTo, Step, Unassign
from actors.system.agent import AgentActor
from actors.system.contained import ContainedActor

log = logging.getLogger(__name__)

LEAD_INPUTS = (LeadIn, Decided)  # what the pump hands to this actor rather than the registry


class LeadRouterActor(ContainedActor):
    # Each lead is contained alone (reported, routing goes on); the book is not rolled back:
    # a copy per lead would cost as much as all open leads (10,000 at a restart's reload).
    KIND = "lead-router"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.book = LeadBook()
        self.agents: dict[int, Any] = {}  # user id → actor address

    def receiveMsg_Setup(self, msg: Setup, sender: Any) -> None:
        self.outbox = msg.outbox

    def receiveMsg_Batch(self, msg: Batch, sender: Any) -> None:
        for item in msg.items:  # one bad lead never stops routing: contained one by one
            self.contained(item, functools.partial(self._route, item))

    def _route(self, item: Any) -> None:
        if isinstance(item, LeadIn):
            self._do(self.book.on_lead(item))
        elif isinstance(item, Decided):
            self._do(self.book.on_decided(item))

    def receiveMsg_OfferEnded(self, msg: OfferEnded, sender: Any) -> None:
        self._do(self.book.on_timeout(msg.lead_id, msg.agent_id))

    def receiveUnrecognizedMessage(self, msg: Any, sender: Any) -> None:
        """Unknown messages (and thespian system messages) are dropped."""

    def _do(self, steps: list[Step]) -> None:
        for step in steps:
            if isinstance(step, Unassign):
                self.emit((LeadUnassigned(step.lead_id),))
            elif isinstance(step, OfferTo):
                self.send(self._agent(step.agent_id), Offer(step.lead, step.cursor, step.resume))
            else:
                self.send(self._agent(step.agent_id), Withdraw(step.lead_id, step.accepted))

    def _agent(self, agent_id: int) -> Any:
        address = self.agents.get(agent_id)
        if address is None:
            address = self.agents[agent_id] = self.createActor(AgentActor)
            self.send(address, AgentInit(agent_id, self.outbox))
        return address
