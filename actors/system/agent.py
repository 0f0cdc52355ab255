"""The thespian actor of one lead agent: its queue of offered and accepted leads.

Created on demand by the lead router, keyed by the agent's user id. An offer is stored
and pushed by the hub (the :class:`LeadOffered` effect) and timed with ``wakeupAfter``:
few leads, so thespian's uncancellable per-actor timers are fine; a wakeup whose offer
was decided or re-armed meanwhile is ignored (each arming has its own generation).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import timedelta
from typing import Any

from thespian.actors import WakeupMessage

from actors.effects import Effect, LeadOffered, OfferRepublished, OfferTimedOut
from actors.messages import AgentInit, Offer, OfferEnded, Withdraw
from actors.system.contained import ContainedActor

ACCEPTED_KEPT = 100  # accepted leads remembered per agent (the store keeps them all)


class AgentActor(ContainedActor):
    ROLLBACK = ("generation", "offered", "accepted")
    KIND = "agent"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agent_id = 0
        self.router: Any = None
        self.generation = 0
        self.offered: dict[str, int] = {}  # lead id → generation of its armed timer
        self.accepted: OrderedDict[str, None] = OrderedDict()

    def receiveMsg_AgentInit(self, msg: AgentInit, sender: Any) -> None:
        self.agent_id, self.outbox, self.router = msg.agent_id, msg.outbox, sender

    def receiveMsg_Offer(self, msg: Offer, sender: Any) -> None:
        lead = msg.lead
        if msg.resume is None:
            self._arm(lead.lead_id, timedelta(seconds=lead.timeout_s))
            self._emit(LeadOffered(lead, self.agent_id, msg.cursor))
            return
        left = msg.resume.expires_at - lead.at
        if left > timedelta(0):  # re-arm for what is left, and push it again
            self._arm(lead.lead_id, left)
            self._emit(OfferRepublished(lead, msg.resume))
        else:  # expired while the hub was away
            self.offered[lead.lead_id] = 0
            self._time_out(lead.lead_id)

    def receiveMsg_Withdraw(self, msg: Withdraw, sender: Any) -> None:
        self.offered.pop(msg.lead_id, None)
        if msg.accepted:
            self.accepted[msg.lead_id] = None
            while len(self.accepted) > ACCEPTED_KEPT:
                self.accepted.popitem(last=False)

    def receiveMsg_WakeupMessage(self, msg: WakeupMessage, sender: Any) -> None:
        lead_id, generation = msg.payload
        if self.offered.get(lead_id) == generation:
            self._time_out(lead_id)

    def receiveUnrecognizedMessage(self, msg: Any, sender: Any) -> None:
        """Unknown messages (and thespian system messages) are dropped."""

    def failure_key(self, message: Any) -> str:
        return f"{self.agent_id} (lead {getattr(message, 'lead_id', '?')})"

    def _arm(self, lead_id: str, after: timedelta) -> None:
        self.generation += 1
        self.offered[lead_id] = self.generation
        self.wakeupAfter(after, payload=(lead_id, self.generation))

    def _time_out(self, lead_id: str) -> None:
        del self.offered[lead_id]
        self._emit(OfferTimedOut(lead_id, self.agent_id))
        self.send(self.router, OfferEnded(lead_id, self.agent_id))

    def _emit(self, effect: Effect) -> None:
        self.emit((effect,))
