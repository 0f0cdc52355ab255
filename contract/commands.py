"""Remote commands (``tablets/{id}/commands``) and their results
(``tablets/{id}/commands/result``), declared once.

The hub publishes a command (QoS 1, not retained, to the tablet's persistent session, with an
MQTT 5 message expiry) as :func:`command_payload`; the tablet executes each ``command_id`` at
most once (it keeps the ids it ran), refuses one past ``expires_at``, and reports
``received`` and then ``succeeded`` or ``failed`` (:class:`CommandResultIn`; reporting the same
again changes nothing). docs/mqtt-contract.md, "Commands".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.fields import DeviceTime, LongText
from contract.schema import NotSent, Reader, Sent, payload_model

CommandName = Literal[
    "reboot",
    "restart_app",
    "screenshot",
    "refresh_manifest",
    "clear_cache",
    "set_volume",
    "set_brightness",
    "update_app",
]
COMMAND_NAMES: tuple[str, ...] = (
    "reboot",
    "restart_app",
    "screenshot",
    "refresh_manifest",
    "clear_cache",
    "set_volume",
    "set_brightness",
    "update_app",
)
# The hub's ids are UUIDs (lower case, as it sends them); anything else is refused on parsing.
CommandId = Annotated[
    str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]


@dataclass(frozen=True, slots=True)
class CommandResultIn:
    """A tablet's report on one command, as the hub received it."""

    tablet_id: Annotated[str, NotSent()]  # from the topic
    command_id: CommandId
    status: Literal["received", "succeeded", "failed"]
    detail: LongText | None
    device_ts: Annotated[DeviceTime | None, Sent("ts")]
    received_at: Annotated[datetime, NotSent()]  # the hub's clock


class CommandResultPayload(BaseModel):
    """``tablets/{id}/commands/result``. Unknown fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")
    v: Literal[1]


CommandResult = payload_model(CommandResultIn, "CommandResult", CommandResultPayload)
_read = Reader(CommandResultIn)


def command_result_in(
    result: CommandResultPayload, tablet_id: str, received_at: datetime
) -> CommandResultIn:
    return _read(result, tablet_id=tablet_id, received_at=received_at)


def command_payload(
    command_id: str,
    name: str,
    args: dict[str, Any],
    issued_at: datetime,
    expires_at: datetime,
) -> bytes:
    """What the hub publishes on ``tablets/{id}/commands``."""
    body = {
        "v": 1,
        "command_id": command_id,
        "name": name,
        "args": args,
        "issued_at": issued_at.isoformat(),
        "expires_at": expires_at.isoformat(),
    }
    return json.dumps(body, separators=(",", ":")).encode()
