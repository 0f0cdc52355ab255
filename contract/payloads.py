"""Pydantic models of the MQTT contract v1 (docs/mqtt-contract.md) and their parsing."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from config.errors import PayloadError

M = TypeVar("M", bound=BaseModel)

# What the store's columns hold (store/migrations): bigint, integer, smallint, and text,
# which refuses U+0000. A value outside them is rejected here, never by the writer.
INT8_MAX = 2**63 - 1
INT4_MAX = 2**31 - 1
EXTRA_DEPTH = 16  # nesting of the unknown heartbeat fields kept as jsonb


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain U+0000")
    return text


def _in_utc_range(at: datetime) -> datetime:
    """A device time that is a valid instant (``9999-12-31T23:59-05:00`` is past year 9999 in
    UTC: the store would take it, Python could not read it back)."""
    try:
        at.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range in UTC") from None
    return at


Id = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_no_nul)]
ShortText = Annotated[str, Field(max_length=256), AfterValidator(_no_nul)]
LongText = Annotated[str, Field(max_length=1024), AfterValidator(_no_nul)]
DeviceTime = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


def check_json_value(value: Any, depth: int = 0) -> None:
    """A parsed JSON value the store's ``jsonb`` holds: no U+0000 in keys or strings, finite
    numbers (``NaN``/``Infinity`` and ``1e400`` are not JSON), nesting ≤ ``EXTRA_DEPTH``."""
    if depth > EXTRA_DEPTH:
        raise ValueError(f"nested deeper than {EXTRA_DEPTH}")
    if isinstance(value, str):
        _no_nul(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            check_json_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json_value(item, depth + 1)


class NowPlaying(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    ad_id: Id
    campaign_id: Id


class Heartbeat(BaseModel):
    """``tablets/{id}/heartbeat``. Unknown fields are kept (``model_extra``)."""

    model_config = ConfigDict(strict=True, extra="allow")
    v: Literal[1]
    ts: DeviceTime | None = None
    seq: Annotated[int, Field(ge=0, le=INT8_MAX)]
    boot_id: Id
    playlist_etag: ShortText | None = None
    now_playing: NowPlaying | None = None
    battery: Annotated[int, Field(ge=0, le=100)] | None = None
    charging: bool | None = None
    disk_free_mb: Annotated[int, Field(ge=0, le=INT4_MAX)] | None = None
    app_version: ShortText | None = None
    lat: Lat | None = None
    lon: Lon | None = None

    @model_validator(mode="after")
    def _extras_fit_jsonb(self) -> Heartbeat:
        for key, value in (self.model_extra or {}).items():
            try:
                _no_nul(key)
                check_json_value(value, 1)
            except ValueError as exc:
                raise ValueError(f"extra field {key[:64]!r}: {exc}") from None
        return self


class Status(BaseModel):
    """``tablets/{id}/status`` (the will carries no ``ts``)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    state: Literal["online", "offline"]
    ts: DeviceTime | None = None


class PlaylistAck(BaseModel):
    """``tablets/{id}/playlist/ack``."""

    model_config = ConfigDict(strict=True, extra="forbid")
    etag: ShortText
    status: Literal["applied", "failed"]
    detail: LongText | None = None


class PlaylistItem(BaseModel):
    """One ad of a playlist as an admin writes it (``--items FILE.json``)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    ad_id: Id
    campaign_id: Id
    url: Annotated[
        str, Field(min_length=1, max_length=2048, pattern=r"^https?://"), AfterValidator(_no_nul)
    ]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    duration_ms: Annotated[int, Field(gt=0, le=3_600_000)]
    position: Annotated[int, Field(ge=0)] | None = None


def parse_payload(model: type[M], raw: bytes, limit: int) -> M:
    """Validate one device payload; every failure is a :class:`PayloadError`."""
    if len(raw) > limit:
        raise PayloadError(f"payload of {len(raw)} bytes exceeds {limit}", "too_large")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        if first["type"] in ("json_invalid", "json_type"):
            raise PayloadError(f"invalid JSON: {first['msg']}", "invalid_json") from None
        raise PayloadError(f"{where}: {first['msg']}") from None


def heartbeat_extras(hb: Heartbeat) -> dict[str, Any]:
    return dict(hb.model_extra or {})
