"""The playlist acknowledgement (``tablets/{id}/playlist/ack``), declared once.

:class:`AckIn` is the declaration: the actor message; the payload model
:data:`PlaylistAck` is derived from it (:mod:`contract.schema`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict

from contract.fields import LongText, ShortText
from contract.schema import NotSent, Reader, payload_model


@dataclass(frozen=True, slots=True)
class AckIn:
    tablet_id: Annotated[str, NotSent()]  # from the topic
    etag: ShortText
    status: Literal["applied", "failed"]
    detail: LongText | None
    received_at: Annotated[datetime, NotSent()]  # the hub's clock


class AckPayload(BaseModel):
    """``tablets/{id}/playlist/ack``. Unknown fields are ignored (docs/mqtt-contract.md)."""

    model_config = ConfigDict(strict=True, extra="ignore")


PlaylistAck = payload_model(AckIn, "PlaylistAck", AckPayload)
_read = Reader(AckIn)


def ack_in(ack: AckPayload, tablet_id: str, received_at: datetime) -> AckIn:
    """The message of a parsed acknowledgement."""
    return _read(ack, tablet_id=tablet_id, received_at=received_at)
