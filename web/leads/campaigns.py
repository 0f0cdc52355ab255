"""A tenant's lead campaigns and the agents subscribed to each (what the panel reads and writes).

A lead campaign names a campaign id of the ads (playlist items, proof of play) and says how
its leads are handled: the dedupe window, the offer timeout and the routing the later
routing slice applies to ``campaign_agents``. Every change is audited in its transaction
(:mod:`store.lead_campaigns`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from store import lead_campaigns as store
from store.lead_campaigns import Agent, Campaign, Handling
from store.users import User

CampaignId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
Routing = Literal["round_robin"]  # the schema also allows "broadcast": not built yet
AgentAction = Literal["add", "remove", "pause", "resume"]


class CampaignIn(BaseModel):
    """A lead campaign as an admin writes it (form or JSON)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    campaign_id: CampaignId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    dedupe_hours: Annotated[int, Field(ge=0, le=24 * 90)] = 24
    offer_timeout_s: Annotated[int, Field(ge=10, le=3600)] = 120
    routing: Routing = "round_robin"


class CampaignEdit(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, Field(min_length=1, max_length=200)]
    dedupe_hours: Annotated[int, Field(ge=0, le=24 * 90)] = 24
    offer_timeout_s: Annotated[int, Field(ge=10, le=3600)] = 120
    routing: Routing = "round_robin"


def _handling(wanted: CampaignIn | CampaignEdit) -> Handling:
    return Handling(
        wanted.name, timedelta(hours=wanted.dedupe_hours), wanted.offer_timeout_s, wanted.routing
    )


async def campaigns(
    pool: AsyncConnectionPool, user: User, campaign_id: str | None = None
) -> list[Campaign]:
    async with pool.connection() as conn:
        return await store.campaigns(conn, user.tenant_id, campaign_id)


async def campaign(pool: AsyncConnectionPool, user: User, campaign_id: str) -> Campaign | None:
    found = await campaigns(pool, user, campaign_id)
    return found[0] if found else None


async def create(pool: AsyncConnectionPool, user: User, wanted: CampaignIn) -> None:
    """Raises :class:`CampaignExists` when the tenant has one with this id."""
    async with pool.connection() as conn:
        await store.create(
            conn,
            user.tenant_id,
            user.email,
            wanted.campaign_id,
            _handling(wanted),
            wanted.model_dump(exclude={"campaign_id"}),
        )


async def edit(
    pool: AsyncConnectionPool, user: User, campaign_id: str, wanted: CampaignEdit
) -> bool:
    """False when the tenant has no such campaign."""
    async with pool.connection() as conn:
        return await store.update(
            conn, user.tenant_id, user.email, campaign_id, _handling(wanted), wanted.model_dump()
        )


async def agents(pool: AsyncConnectionPool, user: User, campaign_id: str) -> list[Agent]:
    async with pool.connection() as conn:
        return await store.agents(conn, user.tenant_id, campaign_id)


async def change_agent(
    pool: AsyncConnectionPool, user: User, campaign_id: str, agent_id: int, action: AgentAction
) -> bool:
    """Subscribe, unsubscribe, pause or resume an agent; False when the campaign is unknown.

    Raises :class:`NoSuchAgent` when the user is not a (subscribed) agent of the tenant.
    """
    async with pool.connection() as conn:
        return await store.change_agent(
            conn, user.tenant_id, user.email, campaign_id, agent_id, action
        )
