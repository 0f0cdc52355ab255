"""Remote commands' JSON API (bearer tokens): send one, list them, read one's targets.

The panel's pages (web/commands/pages.py) do the same for signed-in users.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from config.errors import ConfigError
from store import commands
from web.deps import ApiUser, PoolDep

router = APIRouter(prefix="/api/v1/commands", tags=["commands"])

Name = Literal[
    "reboot",
    "restart_app",
    "screenshot",
    "refresh_manifest",
    "clear_cache",
    "set_volume",
    "set_brightness",
]
TabletId = Annotated[str, Field(min_length=1, max_length=128)]


class CommandIn(BaseModel):
    """One of ``tablets`` or ``fleet``. ``args``: ``{"level": 0..100}`` for set_volume and
    set_brightness, nothing for the others."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    args: dict[str, int] = Field(default_factory=dict, max_length=4)
    tablets: list[TabletId] | None = Field(default=None, min_length=1, max_length=50_000)
    fleet: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    expires_s: int = Field(default=3600, ge=10, le=7 * 86_400)


@dataclass(frozen=True, slots=True)
class CommandDetail(commands.CommandRow):
    """A command with its first 500 tablets, by id."""

    targets: list[commands.TargetRow]


@router.post(
    "",
    status_code=201,
    responses={422: {"description": "not allowed, no such tablets, or bad arguments"}},
)
async def send_command(body: CommandIn, pool: PoolDep, user: ApiUser) -> commands.Issued:
    """Queue a command for the tablets named or a whole fleet (within the user's scope)."""
    if (body.tablets is None) == (body.fleet is None):
        raise HTTPException(422, "name the tablets or the fleet (one of them)")
    try:
        async with pool.connection() as conn:
            issued = await commands.issue(
                conn, user, body.name, dict(body.args), tablets=body.tablets, fleet=body.fleet,
                expires_s=body.expires_s,
            )  # fmt: skip
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    return issued


@router.get("")
async def list_commands(
    pool: PoolDep,
    user: ApiUser,
    tablet: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[commands.CommandRow]:
    """The newest commands first, with their targets counted by state."""
    return await commands.listing(pool, user, tablet_id=tablet, limit=limit)


@router.get("/{command_id}", responses={404: {"description": "no such command in scope"}})
async def get_command(command_id: uuid.UUID, pool: PoolDep, user: ApiUser) -> CommandDetail:
    rows = await commands.listing(pool, user, command_id=command_id, limit=1)
    if not rows:
        raise HTTPException(404, f"no command {command_id}")
    targets = await commands.targets(pool, user, command_id)
    row = rows[0]
    return CommandDetail(**{f.name: getattr(row, f.name) for f in fields(row)}, targets=targets)
