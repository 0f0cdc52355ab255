"""The JSON API (``/api/v1``, bearer tokens): the grid's data for scripts and integrations."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from store.tiles import Tile
from web.deps import ApiUser, PoolDep
from web.grid.pages import FleetQuery, SearchQuery, StateQuery
from web.grid.tiles import fleets, grid, one

router = APIRouter(prefix="/api/v1", tags=["fleet"])


class FleetOut(BaseModel):
    fleet_id: str
    name: str


@router.get("/fleets")
async def list_fleets(pool: PoolDep, user: ApiUser) -> list[FleetOut]:
    return [FleetOut(fleet_id=f, name=n) for f, n in await fleets(pool, user)]


@router.get("/tablets")
async def list_tablets(
    pool: PoolDep,
    user: ApiUser,
    fleet: FleetQuery = None,
    state: StateQuery = None,
    q: SearchQuery = None,
) -> list[Tile]:
    """Every tablet in scope with its live state (the grid's tiles)."""
    return await grid(pool, user, fleet, state, q)


@router.get("/tablets/{tablet_id}", responses={404: {"description": "no such tablet in scope"}})
async def get_tablet(tablet_id: str, pool: PoolDep, user: ApiUser) -> Tile:
    tile = await one(pool, user, tablet_id)
    if tile is None:
        raise HTTPException(404, f"no tablet {tablet_id!r}")
    return tile
