"""The HTTP device API (``/v1/device``): a tablet, by its device token, sends proof of play
and fetches its playout plan — the HTTP twin of ``tablets/{id}/plays`` and the manifest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Header, HTTPException, Request, Response
from psycopg_pool import PoolTimeout
from pydantic import BaseModel

from hub.errors import PayloadError
from hub.plays import PlayBatch, PlayEvent, ingest, parse_batch
from web.deps import PoolDep, SettingsDep
from web.device_auth import DeviceDep
from web.device_plan import Plan, etag_matches, plan_etag, playout_plan

router = APIRouter(prefix="/v1/device", tags=["device"])


class Problem(BaseModel):
    detail: str


class EventStatus(BaseModel):
    event_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None


class PlayAck(BaseModel):
    """What ``tablets/{id}/plays/ack`` carries: ``accepted`` and ``duplicate`` are stored."""

    accepted: int
    duplicate: int
    rejected: int
    batch_id: str | None
    first_event_id: str | None
    events: list[EventStatus]


def _batch_schema() -> dict[str, Any]:
    """The batch as documented (events are judged one by one, so the body is read raw)."""
    schema = PlayBatch.model_json_schema()
    schema["properties"]["events"]["items"] = PlayEvent.model_json_schema()
    schema["description"] = "A proof-of-play batch, as on MQTT (docs/mqtt-contract.md)."
    return schema


UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no valid device token"}
}


async def _read_capped(request: Request, limit: int) -> bytes:
    too_large = HTTPException(413, f"the batch is larger than {limit} bytes: send fewer events")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


@router.post(
    "/events",
    openapi_extra={"requestBody": {"required": True,
                                   "content": {"application/json": {"schema": _batch_schema()}}}},
    responses={**UNAUTHORIZED,
               413: {"model": Problem, "description": "over the batch size limit"},
               422: {"model": Problem, "description": "not a batch; nothing was stored"},
               503: {"model": Problem, "description": "store unavailable; send it again"}},
)  # fmt: skip
async def post_events(
    request: Request, device: DeviceDep, pool: PoolDep, settings: SettingsDep
) -> PlayAck:
    """Store a proof-of-play batch (one transaction, committed before the answer).

    Each event is judged on its own (``rejected`` with a reason, ``duplicate`` when its
    ``event_id`` is already stored); resending a batch is safe."""
    limit = settings.play_max_payload_bytes
    raw = await _read_capped(request, limit)
    try:
        batch = parse_batch(raw, limit)
    except PayloadError as exc:
        raise HTTPException(413 if exc.category == "too_large" else 422, exc.reason) from None
    try:
        result = await ingest(
            pool, device.tablet_id, device.fleet_id, batch.events, datetime.now(UTC),
            skew=timedelta(seconds=settings.play_clock_skew_s),
            retention=timedelta(days=settings.play_retention_days),
        )  # fmt: skip
    except psycopg.DataError as exc:  # e.g. a NUL character, which text columns refuse
        raise HTTPException(422, f"the store refused the batch, nothing was stored: {exc}"
                            ) from None  # fmt: skip
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise HTTPException(503, "the store is unavailable: send the batch again later",
                            headers={"Retry-After": "30"}) from exc  # fmt: skip
    return PlayAck.model_validate(result.ack(batch))


@router.get(
    "/plan",
    response_model=Plan,
    responses={**UNAUTHORIZED,
               304: {"description": "the plan still has the etag given in If-None-Match"}},
)  # fmt: skip
async def get_plan(
    device: DeviceDep,
    pool: PoolDep,
    settings: SettingsDep,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Plan | Response:
    """The tablet's playout plan for (at least) the next 72 h, with an ``ETag``.

    Segments ``[from, until)`` in time order, each with the playlist that wins then
    (emergency over normal, the most specific target, the newest). Dayparting is not
    modelled yet: only the assignments' validity windows cut the plan."""
    plan = await playout_plan(pool, device.tablet_id, settings.playlist_refresh_interval_s,
                              datetime.now(UTC))  # fmt: skip
    etag = plan_etag(plan)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return plan
