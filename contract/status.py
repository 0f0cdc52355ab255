"""The presence status (``tablets/{id}/status``), declared once.

:class:`StatusIn` is the declaration: the actor message; the payload model
:data:`Status` is derived from it (:mod:`contract.schema`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict

from contract.fields import DeviceTime
from contract.schema import NotSent, Reader, Sent, payload_model


@dataclass(frozen=True, slots=True)
class StatusIn:
    tablet_id: Annotated[str, NotSent()]  # from the topic
    state: Literal["online", "offline"]
    received_at: Annotated[datetime, NotSent()]  # the hub's clock
    device_ts: Annotated[DeviceTime | None, Sent("ts")]
    retained: Annotated[bool, NotSent()]  # the broker's retained copy, read at subscribe


class StatusPayload(BaseModel):
    """``tablets/{id}/status`` (the will carries no ``ts``)."""

    model_config = ConfigDict(strict=True, extra="ignore")


Status = payload_model(StatusIn, "Status", StatusPayload)
_read = Reader(StatusIn)


def status_in(st: StatusPayload, tablet_id: str, received_at: datetime, retained: bool) -> StatusIn:
    """The message of a parsed status."""
    return _read(st, tablet_id=tablet_id, received_at=received_at, retained=retained)
