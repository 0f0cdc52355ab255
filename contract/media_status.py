"""The tablet's cache report (``tablets/{id}/media/status``), declared once.

What the tablet holds (``cached``, verified SHA-256 digests), what it is downloading
(bytes done of total) and what failed (how many attempts, the last error). Every list
is bounded, so a report fits :data:`MAX_BYTES`; the tablet actor judges the desired
manifest's library media against it (actors/rules/content.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.fields import INT8_MAX, DeviceTime, ShortText
from contract.schema import NotSent, Reader, Sent, payload_model

MAX_CACHED = 1000
MAX_DOWNLOADING = 100
MAX_FAILED = 100
# 1000 digests (67 bytes each in JSON) and the other lists at their longest fit in this.
MAX_BYTES = 128 * 1024

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Bytes = Annotated[int, Field(ge=0, le=INT8_MAX)]


@dataclass(frozen=True, slots=True)
class Downloading:
    sha256: Sha256
    bytes_done: Bytes
    bytes_total: Bytes


@dataclass(frozen=True, slots=True)
class DownloadFailed:
    sha256: Sha256
    attempts: Annotated[int, Field(ge=1, le=1_000_000)]
    error: ShortText | None


@dataclass(frozen=True, slots=True)
class MediaStatusIn:
    tablet_id: Annotated[str, NotSent()]  # from the topic
    received_at: Annotated[datetime, NotSent()]  # the hub's clock
    device_ts: Annotated[DeviceTime | None, Sent("ts")]
    cached: Annotated[tuple[Sha256, ...], Field(max_length=MAX_CACHED)]
    downloading: Annotated[tuple[Downloading, ...], Field(max_length=MAX_DOWNLOADING)]
    failed: Annotated[tuple[DownloadFailed, ...], Field(max_length=MAX_FAILED)]


class MediaStatusPayload(BaseModel):
    """``tablets/{id}/media/status``. Fields this version does not know are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")
    v: Literal[1]

    @model_validator(mode="after")
    def _done_within_total(self) -> Self:
        for item in getattr(self, "downloading", ()):
            if item.bytes_done > item.bytes_total:
                raise ValueError(f"downloading {item.sha256[:12]}…: bytes_done > bytes_total")
        return self


MediaStatus = payload_model(MediaStatusIn, "MediaStatus", MediaStatusPayload)
_read = Reader(MediaStatusIn)


def media_status_in(ms: MediaStatusPayload, tablet_id: str, received_at: datetime) -> MediaStatusIn:
    """The message of a parsed cache report."""
    return _read(ms, tablet_id=tablet_id, received_at=received_at)
