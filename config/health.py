"""A fleet's health policy: the thresholds of its tablets' health incidents.

The defaults are settings (``FLEETHUB_HEALTH_*``, :class:`~config.settings.Settings`); a
fleet overrides some of them (``fleets.health_policy``, the panel's fleet page). The tablet
actors decide the incidents with it (:mod:`actors.rules.health`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from config.errors import ConfigError

_Version = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z.+_-]+$")]


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """Thresholds of the health incidents (docs/operations.md, "Health incidents")."""

    # low_storage: disk_free_mb below this.
    low_storage_mb: Annotated[int, Field(ge=0, le=10_000_000)] = 500
    # crash_loop: this many new boots (boot_ids) within an hour.
    crash_loop_boots: Annotated[int, Field(ge=2, le=1000)] = 3
    # playback_stuck: now_playing unchanged for longer than the item's duration × this.
    playback_stuck_factor: Annotated[float, Field(ge=1.0, le=1000.0)] = 3.0
    # not_charging: online, not charging and the battery falling for this long.
    not_charging_s: Annotated[int, Field(ge=0, le=7 * 86_400)] = 1800
    # clock_skew: the device's clock off the hub's by more than this (two heartbeats running).
    clock_skew_s: Annotated[int, Field(ge=1, le=365 * 86_400)] = 300
    # app_outdated: app_version below this one (None: not checked).
    min_app_version: _Version | None = None
    # A condition that cleared resolves its incident only after staying clear this long (so a
    # value hovering around its threshold folds into one incident, not many).
    clear_s: Annotated[int, Field(ge=0, le=86_400)] = 300

    def merged(self, overrides: Mapping[str, Any]) -> HealthPolicy:
        """This policy with a fleet's ``overrides`` (validated: :class:`PolicyError`)."""
        if not overrides:
            return self
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise PolicyError(f"unknown health setting {sorted(unknown)[0]!r}")
        try:
            return _ADAPTER.validate_python({**asdict(self), **overrides})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise PolicyError(f"{where}: {first['msg']}") from None

    def overrides_from(self, defaults: HealthPolicy) -> dict[str, Any]:
        """The settings in which this policy differs from ``defaults`` (what a fleet stores)."""
        mine, theirs = asdict(self), asdict(defaults)
        return {k: v for k, v in mine.items() if v != theirs[k]}


class PolicyError(ConfigError):
    """A health setting out of its bounds, or unknown."""


_ADAPTER = TypeAdapter(HealthPolicy)
DEFAULT_HEALTH = HealthPolicy()


def version_key(version: str) -> tuple[int, ...]:
    """Compare app versions by their numbers: ``1.10.2`` > ``1.9`` (``1.4.0-rc1``: 1, 4, 0, 1).

    Android version names are free text (``2024.05.01-build7``), not PEP 440: only the runs
    of digits are compared, in order; a version without any is lowest."""
    parts: list[int] = []
    digits = ""
    for ch in version:
        if ch.isdigit() and ch.isascii():
            digits += ch
        elif digits:
            parts.append(int(digits[:18]))
            digits = ""
    if digits:
        parts.append(int(digits[:18]))
    while parts and parts[-1] == 0:
        parts.pop()  # 1.4 == 1.4.0
    return tuple(parts)
