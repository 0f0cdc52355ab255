"""Reading a posted command: what to send, its level, to which tablets, for how long."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from config.errors import ConfigError
from contract.commands import COMMAND_NAMES
from web.manage.fields import Fields

WORDS = {
    "reboot": "Reboot",
    "restart_app": "Restart the app",
    "screenshot": "Screenshot",
    "refresh_manifest": "Refresh the playlist",
    "clear_cache": "Clear the media cache",
    "set_volume": "Set the volume",
    "set_brightness": "Set the brightness",
    "update_app": "Update the app",
}
LEVELED = ("set_volume", "set_brightness")
SEPARATORS = re.compile(r"[\s,;]+")
MAX_EXPIRY_S = 7 * 86_400


@dataclass(frozen=True, slots=True)
class Wanted:
    name: str
    args: dict[str, Any]
    tablets: list[str] | None
    fleet: str | None
    expires_s: int


def read_command(fields: Fields, *, tablet: str | None = None) -> Wanted:
    """The posted command; ``tablet`` when it is sent from that tablet's page."""
    name = fields.required("name", "Command", 32)
    if name not in COMMAND_NAMES:
        raise ConfigError("Command: choose one of the list")
    args: dict[str, Any] = {}
    if name in LEVELED:
        args["level"] = fields.integer("level", "Level", 0, 100, -1)
        if args["level"] < 0:
            raise ConfigError("Level: a whole number from 0 to 100")
    expires_s = fields.duration("expires", "Expires after", 3600, MAX_EXPIRY_S) or 3600
    if tablet is not None:
        return Wanted(name, args, [tablet], None, expires_s)
    fleet = fields.text("fleet", "Fleet", 128) or None
    listed = [t for t in SEPARATORS.split(fields.text("tablets", "Tablets", 200_000)) if t]
    if fleet is None and not listed:
        raise ConfigError("Send to: choose a fleet or list tablets")
    if fleet is not None and listed:
        raise ConfigError("Send to: a fleet or a list of tablets, not both")
    return Wanted(name, args, listed or None, fleet, expires_s)
