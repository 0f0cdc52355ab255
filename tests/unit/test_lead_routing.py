"""The lead router's rules (LeadBook, pick_next): round robin, skipping tried agents, unassigned."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from actors.messages import AgentSlot, Decided, LeadAttribution, LeadIn, OpenOffer
from actors.rules.lead_book import LeadBook, OfferTo, Step, Unassign, WithdrawFrom, pick_next

AT = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
AGENTS = (AgentSlot(11, 0), AgentSlot(12, 1), AgentSlot(13, 2))


def lead(
    n: int = 1,
    cursor: int = -1,
    agents: tuple[AgentSlot, ...] = AGENTS,
    tenant: str = "t1",
    campaign: str = "c1",
    status: str = "new",
    tried: tuple[int, ...] = (),
    offer: OpenOffer | None = None,
) -> LeadIn:
    return LeadIn(
        f"lead-{n}",
        tenant,
        campaign,
        status,
        agents,
        cursor,
        60,
        "Tan",
        "+6591234567",
        LeadAttribution(None, None, None, None),
        tried,
        offer,
        AT,
    )


def offered_to(steps: list[Step]) -> list[int]:
    return [s.agent_id for s in steps if isinstance(s, OfferTo)]


def test_pick_next_goes_round_robin_after_the_cursor_and_wraps() -> None:
    assert pick_next(AGENTS, -1, set()) == AgentSlot(11, 0)
    assert pick_next(AGENTS, 0, set()) == AgentSlot(12, 1)
    assert pick_next(AGENTS, 2, set()) == AgentSlot(11, 0)
    assert pick_next(AGENTS, 1, {13}) == AgentSlot(11, 0)  # tried ones are skipped
    assert pick_next(AGENTS, 5, {11, 12, 13}) is None
    assert pick_next((), -1, set()) is None
    # Order is by position, not by list order or user id.
    assert pick_next((AgentSlot(30, 5), AgentSlot(40, 2)), -1, set()) == AgentSlot(40, 2)


def test_consecutive_leads_take_turns_and_cursor_is_per_tenant_campaign() -> None:
    book = LeadBook()
    assert offered_to(book.on_lead(lead(1))) == [11]
    assert offered_to(book.on_lead(lead(2))) == [12]
    assert offered_to(book.on_lead(lead(3))) == [13]
    assert offered_to(book.on_lead(lead(4))) == [11]
    # Same campaign id in another tenant: its own agents and cursor.
    other = (AgentSlot(91, 0), AgentSlot(92, 1))
    assert offered_to(book.on_lead(lead(5, tenant="t2", agents=other))) == [91]
    # The stored cursor is used for a campaign seen the first time (after a restart).
    fresh = LeadBook()
    assert offered_to(fresh.on_lead(lead(6, cursor=1))) == [13]


def test_timeouts_move_on_skipping_tried_agents_then_unassign() -> None:
    book = LeadBook()
    assert offered_to(book.on_lead(lead(1, cursor=0))) == [12]
    assert book.on_timeout("lead-1", 11) == []  # not its holder: stale
    assert offered_to(book.on_timeout("lead-1", 12)) == [13]
    assert offered_to(book.on_timeout("lead-1", 13)) == [11]
    assert book.on_timeout("lead-1", 11) == [Unassign("lead-1")]
    assert "lead-1" not in book.leads
    assert book.on_lead(lead(2, agents=())) == [Unassign("lead-2")]


def test_rejection_reoffers_and_acceptance_ends_routing() -> None:
    book = LeadBook()
    book.on_lead(lead(1))
    steps = book.on_decided(Decided("lead-1", 11, "rejected"))
    assert steps[0] == WithdrawFrom(11, "lead-1")
    assert offered_to(steps) == [12]
    assert book.on_decided(Decided("lead-1", 11, "rejected")) == []  # stale
    assert book.on_decided(Decided("lead-1", 12, "accepted")) == [
        WithdrawFrom(12, "lead-1", accepted=True)
    ]
    assert book.on_timeout("lead-1", 12) == []  # no re-offer once accepted


def test_store_agents_already_tried_are_skipped() -> None:
    book = LeadBook()
    assert offered_to(book.on_lead(lead(1, tried=(11, 12)))) == [13]
    assert book.on_timeout("lead-1", 13) == [Unassign("lead-1")]


def test_open_offer_is_resumed_once_and_duplicates_are_ignored() -> None:
    book = LeadBook()
    offer = OpenOffer(12, AT - timedelta(seconds=10), AT + timedelta(seconds=50))
    resumed = lead(1, cursor=1, status="offered", tried=(12,), offer=offer)
    assert book.on_lead(resumed) == [OfferTo(12, resumed, 1, offer)]
    assert book.on_lead(resumed) == []
    # A second NOTIFY of a new lead already on its way to an agent offers nothing more.
    assert offered_to(book.on_lead(lead(2))) == [13]
    assert book.on_lead(lead(2)) == []
    # The store says the lead was accepted meanwhile: its holder lets it go.
    assert book.on_lead(lead(2, status="accepted")) == [WithdrawFrom(13, "lead-2")]
    assert "lead-2" not in book.leads


def test_a_lead_reoffered_to_one_agent_goes_to_that_agent_alone() -> None:
    """An admin's re-offer to one agent (LeadIn.only): offered to them whatever the cursor,
    and unassigned again when they let it time out; nobody else is tried."""
    book = LeadBook()
    reoffered = replace(lead(1, cursor=-1), only=13)
    assert offered_to(book.on_lead(reoffered)) == [13]
    assert book.on_timeout("lead-1", 13) == [Unassign("lead-1")]


def test_a_reoffer_starts_a_new_round_for_the_agents_tried_before() -> None:
    """Unassigned after every agent was tried; re-offered (to all), the store counts only the
    offers of the new round, so the agents are offered it again, in turn."""
    book = LeadBook()
    first = book.on_lead(lead(1))
    assert offered_to(first) == [11]
    assert offered_to(book.on_timeout("lead-1", 11)) == [12]
    assert offered_to(book.on_timeout("lead-1", 12)) == [13]
    assert book.on_timeout("lead-1", 13) == [Unassign("lead-1")]
    again = book.on_lead(lead(1, cursor=2, tried=()))  # status new, a new round
    assert offered_to(again) == [11]
