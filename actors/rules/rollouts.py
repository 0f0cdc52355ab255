"""Staged app rollouts: how many tablets each wave takes, and whether a wave may advance.
Pure logic, no I/O (store/rollouts.py runs it).

Waves are cumulative percentages of the fleet (``1, 10, 50, 100``). A wave that soaked is
judged by two rates over the tablets it added: the share that opened a ``crash_loop`` and the
share that went ``offline`` since it started, each against the same share in the rest of the
fleet (the tablets no wave took yet; none: 0). A rate more than its threshold (percentage
points) above the rest's halts the rollout; otherwise the next wave starts (after the last,
the rollout is done).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from config.errors import ConfigError

MAX_WAVES = 10


def check_waves(waves: Sequence[int]) -> list[int]:
    """Rising percentages from 1 to 100 ending at 100; :class:`ConfigError` otherwise."""
    out = list(waves)
    if not 1 <= len(out) <= MAX_WAVES:
        raise ConfigError(f"Waves: from 1 to {MAX_WAVES} percentages, like 1, 10, 50, 100")
    if any(not 1 <= w <= 100 for w in out) or out != sorted(set(out)):
        raise ConfigError("Waves: rising percentages from 1 to 100, like 1, 10, 50, 100")
    if out[-1] != 100:
        raise ConfigError("Waves: the last one is 100 (the whole fleet)")
    return out


def wave_target(percent: int, fleet_size: int) -> int:
    """How many of the fleet's tablets the waves up to this one take (at least one)."""
    if fleet_size == 0:
        return 0
    return max(1, math.ceil(fleet_size * percent / 100))


@dataclass(frozen=True, slots=True)
class Rates:
    """Of ``tablets``: how many opened a crash loop and how many went offline."""

    tablets: int
    crashed: int
    offline: int

    def pct(self, n: int) -> float:
        return 100.0 * n / self.tablets if self.tablets else 0.0


def verdict(
    wave: Rates, rest: Rates, crash_excess_pct: float, offline_excess_pct: float
) -> str | None:
    """Why the rollout must halt, or None when the wave may advance."""
    checks = (
        ("crash loops", wave.crashed, rest.crashed, crash_excess_pct),
        ("offline", wave.offline, rest.offline, offline_excess_pct),
    )
    for what, in_wave, in_rest, limit in checks:
        mine, theirs = wave.pct(in_wave), rest.pct(in_rest)
        if mine - theirs > limit:
            return (
                f"{what}: {in_wave} of {wave.tablets} tablets of the wave ({mine:.0f} %) against"
                f" {theirs:.0f} % of the rest of the fleet ({rest.tablets} tablets);"
                f" at most {limit:g} points more allowed"
            )
    return None
