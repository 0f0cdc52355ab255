"""Which agent gets a lead next: the lead router's state and rules; pure, no thespian, no I/O.

Round robin per campaign: the next active agent (in ``(position, user id)`` order) after
the campaign's cursor, wrapping around, skipping agents already offered this lead (in this
round: a re-offer starts a new one). When every agent was tried the lead is unassigned. A lead
an admin re-offered to one agent (``LeadIn.only``) goes to that agent alone. The thespian actor in
:mod:`actors.system.lead_router` turns the returned steps into messages; tests drive this class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from actors.messages import AgentSlot, Decided, LeadIn, OpenOffer

# Statuses the router may (still) offer; 'rejected' is treated as 'new' (see docs/leads.md).
ROUTABLE = frozenset({"new", "offered", "rejected"})

CampaignKey = tuple[str, str]  # (tenant id, campaign id): campaign ids repeat across tenants


@dataclass(frozen=True, slots=True)
class OfferTo:
    agent_id: int
    lead: LeadIn
    cursor: int
    resume: OpenOffer | None = None


@dataclass(frozen=True, slots=True)
class WithdrawFrom:
    agent_id: int
    lead_id: str
    accepted: bool = False


@dataclass(frozen=True, slots=True)
class Unassign:
    lead_id: str


Step = OfferTo | WithdrawFrom | Unassign


def pick_next(
    agents: tuple[AgentSlot, ...], cursor: int, tried: set[int] | frozenset[int]
) -> AgentSlot | None:
    """The first agent after ``cursor`` (a position), wrapping around, not yet tried."""
    ordered = sorted(agents, key=lambda a: (a.position, a.user_id))
    after = [a for a in ordered if a.position > cursor]
    before = [a for a in ordered if a.position <= cursor]
    return next((a for a in (*after, *before) if a.user_id not in tried), None)


@dataclass(slots=True)
class _Campaign:
    agents: tuple[AgentSlot, ...]
    cursor: int


@dataclass(slots=True)
class _Routing:
    lead: LeadIn
    tried: set[int] = field(default_factory=set)
    holder: int | None = None  # the agent holding the open offer


class LeadBook:
    def __init__(self) -> None:
        self.campaigns: dict[CampaignKey, _Campaign] = {}
        self.leads: dict[str, _Routing] = {}

    def on_lead(self, lead: LeadIn) -> list[Step]:
        """A lead from the store: new, loaded at start, or re-read after a conflict."""
        key = (lead.tenant_id, lead.campaign_id)
        campaign = self.campaigns.get(key)
        if campaign is None:
            self.campaigns[key] = campaign = _Campaign(lead.agents, lead.cursor)
        campaign.agents = lead.agents  # the newest list; the cursor in memory is newer
        routing = self.leads.get(lead.lead_id)
        if lead.status not in ROUTABLE:  # accepted (or unassigned, ...) meanwhile
            self.leads.pop(lead.lead_id, None)
            if routing is not None and routing.holder is not None:
                return [WithdrawFrom(routing.holder, lead.lead_id)]
            return []
        if routing is None:
            routing = self.leads[lead.lead_id] = _Routing(lead)
        routing.lead = lead
        routing.tried.update(lead.tried)
        offer = lead.open_offer
        if offer is not None:
            if routing.holder == offer.agent_id:
                return []  # already ours: its timer runs
            steps: list[Step] = []
            if routing.holder is not None:
                steps.append(WithdrawFrom(routing.holder, lead.lead_id))
            routing.holder = offer.agent_id
            routing.tried.add(offer.agent_id)
            return [*steps, OfferTo(offer.agent_id, lead, campaign.cursor, offer)]
        if routing.holder is not None:
            return []  # our offer is on its way to the store
        return self._next(routing)

    def on_timeout(self, lead_id: str, agent_id: int) -> list[Step]:
        routing = self.leads.get(lead_id)
        if routing is None or routing.holder != agent_id:
            return []  # stale: the lead moved on
        routing.holder = None
        return self._next(routing)

    def on_decided(self, msg: Decided) -> list[Step]:
        routing = self.leads.get(msg.lead_id)
        if msg.outcome == "accepted":
            self.leads.pop(msg.lead_id, None)
            steps: list[Step] = [WithdrawFrom(msg.agent_id, msg.lead_id, accepted=True)]
            if routing is not None and routing.holder not in (None, msg.agent_id):
                assert routing.holder is not None
                steps.insert(0, WithdrawFrom(routing.holder, msg.lead_id))
            return steps
        if routing is None or routing.holder != msg.agent_id:
            return []  # a stale rejection
        return [
            WithdrawFrom(msg.agent_id, msg.lead_id),
            *self.on_timeout(msg.lead_id, msg.agent_id),
        ]

    def _next(self, routing: _Routing) -> list[Step]:
        lead = routing.lead
        campaign = self.campaigns[(lead.tenant_id, lead.campaign_id)]
        agents = campaign.agents
        if lead.only is not None:  # re-offered to one agent: nobody else, once
            agents = tuple(a for a in agents if a.user_id == lead.only)
        agent = pick_next(agents, campaign.cursor, routing.tried)
        if agent is None:
            del self.leads[lead.lead_id]
            return [Unassign(lead.lead_id)]
        campaign.cursor = agent.position
        routing.holder = agent.user_id
        routing.tried.add(agent.user_id)
        return [OfferTo(agent.user_id, lead, agent.position)]
