"""The HTTP device API (``/v1/device``): a new tablet pairs with a claim code; a paired
tablet, by its device token, sends heartbeats and proof of play and fetches its playout
plan — the HTTP twins of ``tablets/{id}/heartbeat``, ``tablets/{id}/plays`` and the
manifest.
"""

from __future__ import annotations

import contextlib
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Header, HTTPException, Request, Response
from limits import RateLimitItem, RateLimitItemPerSecond
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from config.errors import BrokerError, PayloadError
from config.settings import MqttTarget, Settings
from contract.heartbeat import Heartbeat
from contract.payloads import parse_payload
from store.claims import ClaimError, digest, normalise
from store.device_tokens import Device
from store.plays import PlayBatch, PlayEvent, ingest, parse_batch
from web.deps import BrokerLinkDep, PoolDep, SettingsDep
from web.device.auth import DeviceDep
from web.device.idempotency import STORE_DOWN, Idempotent, Sealed, key_of
from web.device.plan import Plan, etag_matches, plan_etag, playout_plan
from web.live.broker_link import BrokerUnavailable, device_mqtt_url
from web.pairing import codes as pairing
from web.rate_limits import limiter_of, wait_s

router = APIRouter(prefix="/v1/device", tags=["device"])
CLAIM_WINDOW_S = 300  # failed claims are counted per address over five minutes


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
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "broker or store unavailable; try again later"}
}
DeviceInfoValue = Annotated[str, Field(max_length=200)] | int | float | bool | None


class ClaimIn(BaseModel):
    claim_code: str = Field(min_length=1, max_length=32, examples=["7KQ2-M9XD"])
    device_info: dict[Annotated[str, Field(max_length=64)], DeviceInfoValue] = Field(
        default_factory=dict,
        max_length=32,
        description="What the tablet says about itself (model, serial, app version…); kept "
        "with the claim for the audit log.",
    )


class MqttCredentials(BaseModel):
    url: str
    username: str
    password: str


class ClaimOut(BaseModel):
    tablet_id: str
    fleet_id: str
    car_id: str | None
    device_token: str = Field(description="Bearer token for /v1/device; shown only now")
    heartbeat_interval_s: int
    mqtt: MqttCredentials


def _retry_after(settings: Settings) -> dict[str, str]:
    """While the store is away: the same Retry-After as every other panel route."""
    return {"Retry-After": str(settings.web_store_retry_after_s)}


def _claim_limit(settings: Settings) -> RateLimitItem:
    """Failed claims per client address, counted in the store for every panel process."""
    return RateLimitItemPerSecond(settings.claim_attempts_per_window, CLAIM_WINDOW_S)


@router.post(
    "/pairing/claim",
    status_code=201,
    response_model=ClaimOut,
    responses={
        404: {"model": Problem, "description": "unknown claim code"},
        409: {"model": Problem, "description": "the claim code was already used"},
        410: {"model": Problem, "description": "the claim code has expired"},
        429: {"model": Problem, "description": "too many failed claims from here"},
        **UNAVAILABLE,
    },
)
async def claim(
    body: ClaimIn, request: Request, pool: PoolDep, settings: SettingsDep, link: BrokerLinkDep
) -> ClaimOut | Response:
    """Exchange a claim code (single use, expiring) for the tablet's identity, a device
    token and its own broker credentials, confined to ``tablets/{tablet_id}/#``.

    Failed attempts are limited per client address. With an ``Idempotency-Key`` a lost
    answer is given again to a retry of the same request (same code, same key, same body)
    within 24 h."""
    limiter, limit = limiter_of(request), _claim_limit(settings)
    client = request.client.host if request.client else "?"
    # Fail closed: a store that cannot count answers 503 (the app's handler), as the claim would.
    if wait := await wait_s(limiter, limit, "claim", client):
        raise HTTPException(
            429,
            "too many failed claims from this address: wait and retry",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    target = link.target
    if target is None:
        raise HTTPException(
            503, "pairing is unavailable: no broker is configured", headers={"Retry-After": "60"}
        )
    key, code = key_of(request), normalise(body.claim_code)
    once = None
    try:
        if key is not None and code is not None:
            scope = f"claim:{digest(code)}"
            raw = await request.body()
            once = Idempotent(pool, scope, key, raw, Sealed(code, key))
            if replay := await once.begin():
                return replay
        answer = await _claim(pool, target, settings, body, limiter, limit, client)
    except BaseException:
        if once is not None:
            with contextlib.suppress(*STORE_DOWN):
                await once.release()
        raise
    if once is not None:
        with contextlib.suppress(*STORE_DOWN):  # unkept: a retry finds the code used (409)
            await once.finish(201, answer.model_dump_json().encode())
    return answer


async def _claim(
    pool: AsyncConnectionPool,
    target: MqttTarget,
    settings: Settings,
    body: ClaimIn,
    limiter: Any,
    limit: RateLimitItem,
    client: str,
) -> ClaimOut:
    try:
        done = await pairing.claim(pool, target, body.claim_code, dict(body.device_info))
    except ClaimError as exc:
        await limiter.hit(limit, "claim", client)
        raise HTTPException(exc.status, str(exc)) from None
    except BrokerError as exc:
        raise HTTPException(
            503,
            f"the broker step failed, nothing was changed: {exc}",
            headers={"Retry-After": "30"},
        ) from exc
    except STORE_DOWN as exc:
        raise HTTPException(
            503, "the store is unavailable: claim again later", headers=_retry_after(settings)
        ) from exc
    return ClaimOut(
        tablet_id=done.tablet_id,
        fleet_id=done.fleet_id,
        car_id=done.car_id,
        device_token=done.device_token,
        heartbeat_interval_s=done.heartbeat_interval_s,
        mqtt=MqttCredentials(
            url=device_mqtt_url(settings, target),
            username=done.mqtt_username,
            password=done.mqtt_password,
        ),
    )


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with its local ``$defs`` references written out (the OpenAPI document
    has no ``$defs`` at its root for them to point to)."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _heartbeat_schema() -> dict[str, Any]:
    schema = Heartbeat.model_json_schema()
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    inlined["description"] = "A heartbeat, as on MQTT (docs/mqtt-contract.md)."
    return inlined


@router.post(
    "/heartbeat",
    status_code=202,
    response_model=Accepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _heartbeat_schema()}},
        }
    },
    responses={
        **UNAUTHORIZED,
        413: {"model": Problem, "description": "over the payload size limit"},
        422: {"model": Problem, "description": "not a heartbeat; nothing was sent"},
        **UNAVAILABLE,
    },
)
async def post_heartbeat(
    request: Request,
    device: DeviceDep,
    pool: PoolDep,
    settings: SettingsDep,
    link: BrokerLinkDep,
) -> Accepted | Response:
    """The same payload and effect as ``tablets/{id}/heartbeat``: it is handed to the hub
    over the broker (QoS 1) and goes through the tablet's actor. ``202`` once the broker
    has it. With an ``Idempotency-Key`` a retry is answered again without a second send
    (while the store is away the key cannot be checked: the heartbeat is sent, and the
    hub stores one row per ``(boot_id, seq)`` anyway)."""
    limit = settings.max_payload_bytes
    key = key_of(request)
    raw = await _read_capped(request, limit)
    try:
        parse_payload(Heartbeat, raw, limit)
    except PayloadError as exc:
        raise HTTPException(413 if exc.category == "too_large" else 422, exc.reason) from None
    once = None
    if key is not None:
        once = Idempotent(pool, f"tablet:{device.tablet_id}:heartbeat", key, raw)
        try:
            if replay := await once.begin():
                return replay
        except STORE_DOWN:
            once = None
    try:
        await link.publish(f"tablets/{device.tablet_id}/heartbeat", raw)
    except BrokerUnavailable as exc:
        if once is not None:
            with contextlib.suppress(*STORE_DOWN):
                await once.release()
        raise HTTPException(
            503,
            "the broker is unavailable: send the heartbeat again later",
            headers={"Retry-After": "10"},
        ) from exc
    answer = Accepted()
    if once is not None:
        with contextlib.suppress(*STORE_DOWN):  # unkept: a retry is sent again (deduplicated)
            await once.finish(202, answer.model_dump_json().encode())
    return answer


async def _read_capped(request: Request, limit: int) -> bytes:
    too_large = HTTPException(413, f"the body is larger than {limit} bytes")
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
    response_model=PlayAck,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _batch_schema()}},
        }
    },
    responses={
        **UNAUTHORIZED,
        413: {"model": Problem, "description": "over the batch size limit"},
        422: {"model": Problem, "description": "not a batch; nothing was stored"},
        503: {"model": Problem, "description": "store unavailable; send it again"},
    },
)
async def post_events(
    request: Request, device: DeviceDep, pool: PoolDep, settings: SettingsDep
) -> PlayAck | Response:
    """Store a proof-of-play batch (one transaction, committed before the answer).

    Each event is judged on its own (``rejected`` with a reason, ``duplicate`` when its
    ``event_id`` is already stored); resending a batch is safe. With an
    ``Idempotency-Key`` a retry gets the first answer again."""
    limit = settings.play_max_payload_bytes
    key = key_of(request)
    raw = await _read_capped(request, limit)
    try:
        batch = parse_batch(raw, limit)
    except PayloadError as exc:
        raise HTTPException(413 if exc.category == "too_large" else 422, exc.reason) from None
    once = None
    try:
        if key is not None:
            once = Idempotent(pool, f"tablet:{device.tablet_id}:events", key, raw)
            if replay := await once.begin():
                return replay
        answer = await _ingest(pool, device, settings, batch)
    except BaseException:
        if once is not None:
            with contextlib.suppress(*STORE_DOWN):
                await once.release()
        raise
    if once is not None:
        with contextlib.suppress(*STORE_DOWN):  # unkept: a retry is judged again (duplicates)
            await once.finish(200, answer.model_dump_json().encode())
    return answer


async def _ingest(
    pool: AsyncConnectionPool, device: Device, settings: Settings, batch: PlayBatch
) -> PlayAck:
    try:
        result = await ingest(
            pool,
            device.tablet_id,
            device.fleet_id,
            batch.events,
            datetime.now(UTC),
            skew=timedelta(seconds=settings.play_clock_skew_s),
            retention=timedelta(days=settings.play_retention_days),
        )
    except psycopg.DataError as exc:  # e.g. a NUL character, which text columns refuse
        raise HTTPException(
            422, f"the store refused the batch, nothing was stored: {exc}"
        ) from None
    except STORE_DOWN as exc:
        raise HTTPException(
            503,
            "the store is unavailable: send the batch again later",
            headers=_retry_after(settings),
        ) from exc
    return PlayAck.model_validate(result.ack(batch))


@router.get(
    "/plan",
    response_model=Plan,
    responses={
        **UNAUTHORIZED,
        304: {"description": "the plan still has the etag given in If-None-Match"},
    },
)
async def get_plan(
    request: Request,
    device: DeviceDep,
    pool: PoolDep,
    settings: SettingsDep,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Plan | Response:
    """The tablet's playout plan for (at least) the next 72 h, with an ``ETag``.

    Segments ``[from, until)`` in time order, each with the playlist that wins then
    (emergency over normal, the most specific target, the newest). Validity windows and
    daypart edges (fleet local time) cut the plan.
    """
    plan = await playout_plan(
        pool,
        device.tablet_id,
        settings.playlist_refresh_interval_s,
        datetime.now(UTC),
        request.app.state.media_links,
    )
    etag = plan_etag(plan)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return plan
