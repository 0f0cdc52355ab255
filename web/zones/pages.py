"""Zones: a tenant's named polygons, drawn on the map or uploaded as GeoJSON, reused by its
campaigns. Admins and advertisers list, view and add zones; admins rename, reshape and delete
them (a zone a campaign targets cannot be deleted). Refused GeoJSON shows why
(actors/rules/geo.py), and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile

from actors.rules.geo import ZoneShape, parse_zone
from config.errors import ConfigError
from store import zones as store
from store.zones import Zone
from web.campaigns.access import FormSeat, Seat, SeatDep, admin_only
from web.deps import PoolDep
from web.http.templating import TEMPLATES
from web.manage.fields import Fields

router = APIRouter(include_in_schema=False)
DONE = {"created": "Zone saved.", "saved": "Zone saved.", "deleted": "Zone deleted."}


def _render(
    request: Request, template: str, seat: Seat, status: int = 200, **ctx: Any
) -> HTMLResponse:
    settings = request.app.state.settings
    tiles = {"tiles": settings.map_tile_url, "attribution": settings.map_tile_attribution}
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "login": seat.login,
            "tiles": json.dumps(tiles),
            "done": DONE.get(request.query_params.get("done", "")),
            **ctx,
        },
        status_code=status,
    )


def shapes_json(found: list[Zone]) -> str:
    return json.dumps([{"id": z.zone_id, "name": z.name, "geometry": z.geometry} for z in found])


async def posted_shape(request: Request, fields: Fields, required: bool) -> ZoneShape | None:
    """The zone of the form: an uploaded GeoJSON file, else the drawn or pasted text."""
    upload = (await request.form()).get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        return parse_zone(await upload.read())
    text = fields.text("geojson", "GeoJSON", 1024 * 1024)
    if not text and not required:
        return None
    return parse_zone(text)


@router.get("/zones", response_class=HTMLResponse)
async def zones_page(request: Request, pool: PoolDep, seat: SeatDep) -> HTMLResponse:
    async with pool.connection() as conn:
        found = await store.listing(conn, seat.user.tenant_id, None, seat.scope.advertiser_id)
    return _render(request, "zones.html", seat, zones=found, shapes=shapes_json(found))


@router.get("/zones/new", response_class=HTMLResponse)
async def new_zone_page(request: Request, seat: SeatDep) -> HTMLResponse:
    return _render(request, "zone_new.html", seat, values={}, error=None)


@router.post("/zones", response_class=HTMLResponse, response_model=None)
async def create_zone(
    request: Request, pool: PoolDep, seat: FormSeat
) -> HTMLResponse | RedirectResponse:
    form = await request.form()
    fields = Fields(form)
    try:
        name = fields.required("name", "Name", store.MAX_NAME)
        shape = await posted_shape(request, fields, required=True)
        assert shape is not None
        source = "drawn" if fields.text("source", "Source", 10) == "drawn" else "upload"
        async with pool.connection() as conn:
            zone_id = await store.add(
                conn, seat.user.tenant_id, name, shape, source, seat.user.email
            )
    except ConfigError as exc:
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        return _render(request, "zone_new.html", seat, 422, values=values, error=str(exc))
    return RedirectResponse(f"/zones/{zone_id}?done=created", status_code=303)


async def _zone_or_404(pool: PoolDep, seat: Seat, zone_id: str) -> Zone:
    async with pool.connection() as conn:
        found = await store.one(conn, seat.user.tenant_id, zone_id, seat.scope.advertiser_id)
    if found is None:
        raise HTTPException(404, f"no zone {zone_id!r}")
    return found


def _zone_page(
    request: Request, seat: Seat, zone: Zone, status: int = 200, error: str | None = None
) -> HTMLResponse:
    return _render(
        request, "zone.html", seat, status, z=zone, shapes=shapes_json([zone]), error=error
    )


@router.get("/zones/{zone_id}", response_class=HTMLResponse)
async def zone_page(request: Request, zone_id: str, pool: PoolDep, seat: SeatDep) -> HTMLResponse:
    return _zone_page(request, seat, await _zone_or_404(pool, seat, zone_id))


@router.post("/zones/{zone_id}", response_class=HTMLResponse, response_model=None)
async def update_zone(
    request: Request, zone_id: str, pool: PoolDep, seat: FormSeat
) -> HTMLResponse | RedirectResponse:
    zone = await _zone_or_404(pool, seat, zone_id)
    admin_only(seat)
    fields = Fields(await request.form())
    try:
        name = fields.required("name", "Name", store.MAX_NAME)
        shape = await posted_shape(request, fields, required=False)
        async with pool.connection() as conn:
            await store.update(conn, seat.user.tenant_id, zone_id, name, shape, seat.user.email)
    except ConfigError as exc:
        return _zone_page(request, seat, zone, 422, str(exc))
    return RedirectResponse(f"/zones/{zone_id}?done=saved", status_code=303)


@router.post("/zones/{zone_id}/delete", response_class=HTMLResponse, response_model=None)
async def delete_zone(
    request: Request, zone_id: str, pool: PoolDep, seat: FormSeat
) -> HTMLResponse | RedirectResponse:
    zone = await _zone_or_404(pool, seat, zone_id)
    admin_only(seat)
    try:
        async with pool.connection() as conn:
            await store.delete(conn, seat.user.tenant_id, zone_id, seat.user.email)
    except ConfigError as exc:
        return _zone_page(request, seat, zone, 409, str(exc))
    return RedirectResponse("/zones?done=deleted", status_code=303)
