"""The heartbeat (``tablets/{id}/heartbeat``), declared once.

:class:`HeartbeatIn` is the declaration: the actor message and, as it is, the row the
store keeps in ``heartbeats``. The payload model :data:`Heartbeat` (with every bound) and
the store's :data:`COLUMNS` (the writer's ``COPY``, the panel's read) are derived from it
(:mod:`contract.schema`): a new field is one line here plus a migration adding its column.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.fields import (
    INT4_MAX,
    INT8_MAX,
    DeviceTime,
    Id,
    Lat,
    Lon,
    ShortText,
    check_json_value,
    no_nul,
)
from contract.records import record
from contract.schema import Column, NotSent, Reader, Sent, columns, payload_model


@record
class HeartbeatIn:
    """A heartbeat as the hub received it."""

    tablet_id: Annotated[str, NotSent()]  # from the topic
    received_at: Annotated[datetime, NotSent(), Column("time")]  # the hub's clock
    device_ts: Annotated[DeviceTime | None, Sent("ts")]
    seq: Annotated[int, Field(ge=0, le=INT8_MAX), Column(pg="int8")]
    boot_id: Id
    playlist_etag: ShortText | None
    ad_id: Annotated[Id | None, Sent("now_playing.ad_id")]
    campaign_id: Annotated[Id | None, Sent("now_playing.campaign_id")]
    battery: Annotated[int, Field(ge=0, le=100), Column(pg="int2")] | None
    charging: bool | None
    disk_free_mb: Annotated[int, Field(ge=0, le=INT4_MAX), Column(pg="int4")] | None
    app_version: ShortText | None
    lat: Lat | None
    lon: Lon | None
    # The unknown fields as compact JSON; None when there are none.
    extra_json: Annotated[str | None, NotSent(), Column("extra", "jsonb")]


class HeartbeatPayload(BaseModel):
    """``tablets/{id}/heartbeat``. Unknown fields are kept (``model_extra``)."""

    model_config = ConfigDict(strict=True, extra="allow")
    v: Literal[1]

    @model_validator(mode="after")
    def _extras_fit_jsonb(self) -> Self:
        for key, value in (self.model_extra or {}).items():
            try:
                no_nul(key)
                check_json_value(value, 1)
            except ValueError as exc:
                raise ValueError(f"extra field {key[:64]!r}: {exc}") from None
        return self


Heartbeat = payload_model(HeartbeatIn, "Heartbeat", HeartbeatPayload)
NowPlaying: type[BaseModel] = get_args(Heartbeat.model_fields["now_playing"].annotation)[0]
COLUMNS = columns(HeartbeatIn)
_read = Reader(HeartbeatIn)


def heartbeat_extras(hb: HeartbeatPayload) -> dict[str, Any]:
    return dict(hb.model_extra or {})


def heartbeat_in(hb: HeartbeatPayload, tablet_id: str, received_at: datetime) -> HeartbeatIn:
    """The message of a parsed heartbeat."""
    extras = hb.model_extra
    extra_json = json.dumps(extras, separators=(",", ":")) if extras else None
    return _read(hb, tablet_id=tablet_id, received_at=received_at, extra_json=extra_json)
