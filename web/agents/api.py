"""The agent app's JSON API: the inbox and the actions on a lead (bearer token).

``GET /api/v1/agent/leads`` is for agents (403 to other roles); a route naming a lead answers
404 unless the lead is the token's agent's own. Actions answer the lead as the agent now sees
it (``null`` once rejected) or 409 with the reason nothing changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, HTTPException

from store.lead_inbox import AgentLead
from web.agents import inbox as agent_leads
from web.agents.inbox import Action, ActionRefused, LeadNotFound
from web.deps import ApiAgent, BearerUser, PoolDep

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such lead in this agent's inbox"}
}
router = APIRouter(prefix="/api/v1/agent/leads", tags=["agent"], responses=NOT_FOUND)


@router.get("")
async def list_leads(pool: PoolDep, user: ApiAgent) -> list[AgentLead]:
    """Open offers (``status`` offered, with ``expires_at``) and held leads, newest first."""
    return await agent_leads.inbox(pool, user)


@router.get("/{lead_id}")
async def get_lead(lead_id: str, pool: PoolDep, user: BearerUser) -> AgentLead:
    found = agent_leads.parse_id(lead_id)
    lead = await agent_leads.get(pool, user, found) if found else None
    if lead is None:
        raise HTTPException(404, f"no lead {lead_id!r} in your inbox")
    return lead


def _api_action(action: Action) -> Callable[..., Awaitable[AgentLead | None]]:
    async def handler(lead_id: str, pool: PoolDep, user: BearerUser) -> AgentLead | None:
        found = agent_leads.parse_id(lead_id)
        try:
            if found is None:
                raise LeadNotFound(lead_id)
            return await agent_leads.act(pool, user, found, action)
        except LeadNotFound as exc:
            raise HTTPException(404, f"no lead {lead_id!r} in your inbox") from exc
        except ActionRefused as exc:
            raise HTTPException(409, str(exc)) from exc

    handler.__name__ = f"lead_{action}"
    handler.__doc__ = {
        "accept": "Accept the open offer of this lead (before it expires).",
        "reject": "Reject the open offer: the hub offers the lead to the next agent.",
        "contacted": "Mark an accepted lead contacted.",
        "converted": "Mark an accepted or contacted lead converted.",
    }[action]
    return handler


for _action in agent_leads.ACTIONS:
    router.add_api_route(
        f"/{{lead_id}}/{_action}",
        _api_action(_action),
        methods=["POST"],
        responses={409: {"description": "the action does not apply now"}},
    )
