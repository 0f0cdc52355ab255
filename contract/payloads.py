"""Pydantic models of the MQTT contract v1 (docs/mqtt-contract.md) and their parsing.

The device messages are declared in their own modules of :mod:`contract` (one
declaration each, from which their payload model is derived); this one holds the
playlist item an admin writes and the parser every device payload goes through.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from config.errors import PayloadError
from contract.fields import Id, no_nul

M = TypeVar("M", bound=BaseModel)


class PlaylistItem(BaseModel):
    """One ad of a playlist as an admin writes it (``--items FILE.json``)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    ad_id: Id
    campaign_id: Id
    url: Annotated[
        str, Field(min_length=1, max_length=2048, pattern=r"^https?://"), AfterValidator(no_nul)
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
