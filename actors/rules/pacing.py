"""Pacing: a running campaign's weight in the loop from its delivery against today's goal; pure.

The hub (shard 0) runs :func:`pace` for every running campaign every
``FLEETHUB_CAMPAIGN_PACING_INTERVAL_S`` from proof of play (in-target plays only) and stores
the result (``campaign_pacing``, shown on the campaign page); the multiplier scales the
campaign's pods in every tablet's loop (:func:`actors.rules.targeting.loop_pods`).

- **Today's goal** (:func:`daily_target`): the daily goal, no more than what is left of the
  total goal; with a total goal only, what is left of it spread evenly over the flight's days
  left (today included).
- **Even over the day**: ``elapsed`` is the share of today's active time (flight × dayparts, in
  the campaign's zone) already past, so ``expected = goal × elapsed``; the multiplier is what
  the rest of the day needs relative to an even pace, ``(goal − delivered) / (goal × (1 −
  elapsed))``, at most ``max_boost``, in quarter steps (a small drift moves no weight, so
  tablets get no new manifest for it).
- **No over-delivery beyond the margin**: at the goal the multiplier is 0 (``goal met``), and
  it is 0 already (``holding``) while the plays expected before the next decision —
  ``recent_per_s × horizon_s``, the last interval's rate — would take delivery past
  ``goal × (1 + margin)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

STEP = 0.25  # multipliers move in quarters
TOLERANCE = 0.1  # within ±10 % of the expected delivery is on track


@dataclass(frozen=True, slots=True)
class Pace:
    multiplier: float
    status: str  # no goal | behind | on track | ahead | holding | goal met
    delivered: int
    expected: int | None = None
    goal: int | None = None


def daily_target(
    daily_goal: int | None, total_goal: int | None, total_before_today: int, days_left: int
) -> int | None:
    """Today's goal (None: no goal at all)."""
    remaining = None if total_goal is None else max(0, total_goal - total_before_today)
    if daily_goal is not None:
        return daily_goal if remaining is None else min(daily_goal, remaining)
    if remaining is None:
        return None
    return math.ceil(remaining / max(1, days_left))


def pace(
    goal: int | None,
    delivered: int,
    elapsed: float,
    recent_per_s: float,
    horizon_s: float,
    margin: float,
    max_boost: float,
) -> Pace:
    """Today's pacing decision (see the module's description)."""
    if goal is None:
        return Pace(1.0, "no goal", delivered)
    elapsed = min(1.0, max(0.0, elapsed))
    expected = round(goal * elapsed)
    if delivered >= goal:
        return Pace(0.0, "goal met", delivered, expected, goal)
    if delivered + recent_per_s * horizon_s > goal * (1 + margin):
        return Pace(0.0, "holding", delivered, expected, goal)
    left = max(1.0 - elapsed, 1e-3)
    wanted = (goal - delivered) / (goal * left)
    multiplier = min(max_boost, round(wanted / STEP) * STEP)
    if delivered < expected * (1 - TOLERANCE):
        status = "behind"
    elif delivered > expected * (1 + TOLERANCE) and delivered - expected >= 1:
        status = "ahead"
    else:
        status = "on track"
    return Pace(max(0.0, multiplier), status, delivered, expected, goal)


def elapsed_share(
    active: Callable[[datetime], bool], day_start: datetime, day_end: datetime, now: datetime
) -> float:
    """The share of the day's active time (``active`` sampled every 5 minutes between the
    local day's start and end instants) that lies before ``now``; 1 when none is active."""
    step = timedelta(minutes=5)
    total = 0
    past = 0.0
    at = day_start
    while at < day_end:
        if active(at):
            total += 1
            if at + step <= now:
                past += 1
            elif at < now:
                past += (now - at) / step  # a fraction of a step
        at += step
    return 1.0 if total == 0 else past / total
