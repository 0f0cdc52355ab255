"""Pydantic models of the MQTT contract v1 (docs/mqtt-contract.md) and their parsing."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from hub.errors import PayloadError

M = TypeVar("M", bound=BaseModel)
Id = Annotated[str, Field(min_length=1, max_length=128)]
ShortText = Annotated[str, Field(max_length=256)]


class NowPlaying(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    ad_id: Id
    campaign_id: Id


class Heartbeat(BaseModel):
    """``tablets/{id}/heartbeat``. Unknown fields are kept (``model_extra``)."""

    model_config = ConfigDict(strict=True, extra="allow")
    v: Literal[1]
    ts: AwareDatetime | None = None
    seq: Annotated[int, Field(ge=0)]
    boot_id: Id
    playlist_etag: ShortText | None = None
    now_playing: NowPlaying | None = None
    battery: Annotated[int, Field(ge=0, le=100)] | None = None
    charging: bool | None = None
    disk_free_mb: Annotated[int, Field(ge=0)] | None = None
    app_version: ShortText | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None


class Status(BaseModel):
    """``tablets/{id}/status`` (the will carries no ``ts``)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    state: Literal["online", "offline"]
    ts: AwareDatetime | None = None


class PlaylistAck(BaseModel):
    """``tablets/{id}/playlist/ack``."""

    model_config = ConfigDict(strict=True, extra="forbid")
    etag: ShortText
    status: Literal["applied", "failed"]
    detail: Annotated[str, Field(max_length=1024)] | None = None


class PlaylistItem(BaseModel):
    """One ad of a playlist as an admin writes it (``--items FILE.json``)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    ad_id: Id
    campaign_id: Id
    url: Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^https?://")]
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
