"""A lead agent's inbox: the offers addressed to them and the leads they hold, and their actions.

The hub offers each new lead to one agent at a time (a ``lead_offers`` row with no outcome
yet, ``leads.status = 'offered'``, ``NOTIFY fleethub_lead_offers``). The agent answers here,
each action in one transaction: the offer's outcome (accept, reject), the lead's status and
agent, a ``lead_events`` row naming the agent, and ``NOTIFY fleethub_lead_actions,
'<lead_id>'`` so the hub offers the next agent (reject) or cancels the timeout (accept).

A lead is the agent's while its open, unexpired offer is addressed to them, or once they
accepted it; anyone else (another agent, an admin, another tenant) is told 404.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal, NoReturn, get_args

import psycopg
from psycopg_pool import AsyncConnectionPool

from store import lead_inbox as store
from store.lead_inbox import AgentLead
from store.users import User
from web.http.templating import duration

AsyncConn = psycopg.AsyncConnection[tuple[object, ...]]
Action = Literal["accept", "reject", "contacted", "converted"]
ACTIONS: tuple[Action, ...] = get_args(Action)
HELD = ("accepted", "contacted", "converted")
INBOX_LIMIT = 200


class LeadNotFound(Exception):
    """No such lead in this agent's inbox (404)."""


class ActionRefused(Exception):
    """The lead is the agent's (or was offered to them) but the action does not apply (409)."""


# What each action makes of the lead, and the lead_events name.
EVENT: dict[Action, str] = {
    "accept": "accepted",
    "reject": "rejected",
    "contacted": "contacted",
    "converted": "converted",
}
# For contacted/converted: the statuses they apply to.
FROM_STATUS: dict[Action, tuple[str, ...]] = {
    "contacted": ("accepted",),
    "converted": ("accepted", "contacted"),
}


def parse_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def _view(
    pool: AsyncConnectionPool, user: User, lead_id: uuid.UUID | None, limit: int
) -> list[AgentLead]:
    if user.role != "agent":
        return []
    async with pool.connection() as conn:
        return await store.agent_leads(conn, user.user_id, user.tenant_id, lead_id, limit)


async def inbox(pool: AsyncConnectionPool, user: User) -> list[AgentLead]:
    """The agent's open offers and held leads, newest first."""
    return await _view(pool, user, None, INBOX_LIMIT)


async def get(pool: AsyncConnectionPool, user: User, lead_id: uuid.UUID) -> AgentLead | None:
    found = await _view(pool, user, lead_id, 1)
    return found[0] if found else None


async def act(
    pool: AsyncConnectionPool, user: User, lead_id: uuid.UUID, action: Action
) -> AgentLead | None:
    """Apply ``action``; the lead as the agent now sees it (None once rejected)."""
    if user.role != "agent":
        raise LeadNotFound(lead_id)
    try:
        async with pool.connection() as conn, conn.transaction():
            await _act(conn, user, lead_id, action)
    except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
        raise ActionRefused("The lead changed at the same moment: reload and try again.") from exc
    return await get(pool, user, lead_id)


async def _act(conn: AsyncConn, user: User, lead_id: uuid.UUID, action: Action) -> None:
    locked = await store.lock_lead(conn, lead_id, user.tenant_id)
    if locked is None:
        raise LeadNotFound(lead_id)
    status, holder = locked
    details: dict[str, object] = {"from": status}
    if action in ("accept", "reject"):
        offer = await store.lock_open_offer(conn, lead_id)
        if offer is None or offer.agent_id != user.user_id:
            await _refuse_offer(conn, user, lead_id, status, holder)
        if not offer.live:
            assert isinstance(offer.expires_at, datetime)
            late = int((datetime.now(UTC) - offer.expires_at).total_seconds())
            raise ActionRefused(
                f"This offer expired {duration(late)} ago: the lead goes to the next agent."
            )
        await store.decide_offer(conn, offer.offer_id, EVENT[action])
        if action == "accept":
            await store.set_lead(conn, lead_id, "accepted", user.user_id)
        else:  # back to new and nobody's: the hub offers it to the next agent
            await store.set_lead(conn, lead_id, "new", None)
        details["offer_id"] = offer.offer_id
    else:
        if holder != user.user_id or status not in HELD:
            if await store.has_open_offer(conn, lead_id, user.user_id):
                raise ActionRefused("Accept the offer first.")
            raise LeadNotFound(lead_id)
        if status not in FROM_STATUS[action]:
            raise ActionRefused(f"This lead is already {status}: it cannot be marked {action}.")
        await store.set_lead(conn, lead_id, EVENT[action], user.user_id)
    await store.record_action(conn, lead_id, user.email, EVENT[action], details)


async def _refuse_offer(
    conn: AsyncConn, user: User, lead_id: uuid.UUID, status: str, holder: object
) -> NoReturn:
    """Accept/reject without an open offer to this agent: 409 when it is or was theirs."""
    if holder == user.user_id and status in HELD:
        raise ActionRefused(f"This lead is already {status}.")
    if await store.was_offered(conn, lead_id, user.user_id):
        raise ActionRefused("This offer is no longer open: it expired or went to another agent.")
    raise LeadNotFound(lead_id)
