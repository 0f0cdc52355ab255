"""Remote commands' JSON API (bearer tokens): send one, list them, read one's targets.

The panel's pages (web/commands/pages.py) do the same for signed-in users.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

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


class Issued(BaseModel):
    command_id: uuid.UUID
    targets: int


class CommandOut(BaseModel):
    command_id: uuid.UUID
    name: str
    args: dict[str, Any]
    target: str
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    total: int
    queued: int
    delivered: int
    succeeded: int
    failed: int
    expired: int


class TargetOut(BaseModel):
    tablet_id: str
    car_id: str | None
    state: str
    sent_at: datetime | None
    delivered_at: datetime | None
    done_at: datetime | None
    detail: str | None
    screenshot: str | None = Field(description="the screenshot's SHA-256, when one was uploaded")


class CommandDetail(CommandOut):
    targets: list[TargetOut] = Field(description="the first 500 tablets, by id")


def _out(row: commands.CommandRow) -> dict[str, Any]:
    return {f: getattr(row, f) for f in CommandOut.model_fields}


@router.post(
    "",
    status_code=201,
    responses={422: {"description": "not allowed, no such tablets, or bad arguments"}},
)
async def send_command(body: CommandIn, pool: PoolDep, user: ApiUser) -> Issued:
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
    return Issued(command_id=issued.command_id, targets=issued.targets)


@router.get("")
async def list_commands(
    pool: PoolDep,
    user: ApiUser,
    tablet: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[CommandOut]:
    """The newest commands first, with their targets counted by state."""
    rows = await commands.listing(pool, user, tablet_id=tablet, limit=limit)
    return [CommandOut(**_out(r)) for r in rows]


@router.get("/{command_id}", responses={404: {"description": "no such command in scope"}})
async def get_command(command_id: uuid.UUID, pool: PoolDep, user: ApiUser) -> CommandDetail:
    rows = await commands.listing(pool, user, command_id=command_id, limit=1)
    if not rows:
        raise HTTPException(404, f"no command {command_id}")
    targets = await commands.targets(pool, user, command_id)
    return CommandDetail(
        **_out(rows[0]),
        targets=[TargetOut(**{f: getattr(t, f) for f in TargetOut.model_fields}) for t in targets],
    )
