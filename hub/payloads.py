"""Pydantic models of the MQTT contract v1 (docs/mqtt-contract.md) and their parsing.

The device messages are declared in :mod:`contract` (one declaration each, from which
their payload model is derived); their names stay importable from here.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from contract.fields import EXTRA_DEPTH as EXTRA_DEPTH
from contract.fields import INT4_MAX as INT4_MAX
from contract.fields import INT8_MAX as INT8_MAX
from contract.fields import DeviceTime as DeviceTime
from contract.fields import Id as Id
from contract.fields import Lat as Lat
from contract.fields import Lon as Lon
from contract.fields import LongText as LongText
from contract.fields import ShortText as ShortText
from contract.fields import check_json_value as check_json_value
from contract.fields import no_nul as _no_nul
from contract.heartbeat import Heartbeat as Heartbeat
from contract.heartbeat import NowPlaying as NowPlaying
from contract.heartbeat import heartbeat_extras as heartbeat_extras
from contract.playlist_ack import PlaylistAck as PlaylistAck
from contract.status import Status as Status
from hub.errors import PayloadError

M = TypeVar("M", bound=BaseModel)


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
