"""Driver assignments: which driver drove which car, from one local day to another
(inclusive; open ended while ``valid_to`` is None), and the split of a tablet's month into
segments by car, driver and rate card (:func:`segments`).

A car has one driver on a day and a driver one car, so every day of a car's plays and online
hours belongs to exactly one driver or to none: a change of driver mid-month splits the
month at that day, exactly. A tablet's day belongs to the car it was in when the day ended
(in its fleet's zone). Assignments never reach into a closed month.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from billing.errors import BillingError
from billing.rates import RateCard


@dataclass(frozen=True, slots=True)
class Assignment:
    assignment_id: int
    driver_id: int
    driver_name: str
    car_id: str
    valid_from: date
    valid_to: date | None

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def overlaps(self, other: Assignment) -> bool:
        far = date.max
        return self.valid_from <= (other.valid_to or far) and other.valid_from <= (
            self.valid_to or far
        )

    @property
    def period(self) -> str:
        return f"{self.valid_from} – {self.valid_to or 'open'}"


def driver_on(assignments: Iterable[Assignment], car_id: str, day: date) -> int:
    """The driver of ``car_id`` on ``day`` (0: none)."""
    for a in assignments:
        if a.car_id == car_id and a.covers(day):
            return a.driver_id
    return 0


def check_assignment(
    new: Assignment, others: Iterable[Assignment], closed_through: date | None
) -> None:
    """Refuse an assignment that ends before it starts, reaches into a closed month, or
    overlaps another of the same car or the same driver (``others``: theirs)."""
    if new.valid_to is not None and new.valid_to < new.valid_from:
        raise BillingError(
            f"the assignment ends ({new.valid_to}) before it starts ({new.valid_from})"
        )
    if closed_through is not None and new.valid_from <= closed_through:
        raise BillingError(
            f"{new.valid_from} is inside a closed month (closed through {closed_through}):"
            f" start on {closed_through + timedelta(days=1)} or later"
        )
    for other in others:
        if other.assignment_id == new.assignment_id or not other.overlaps(new):
            continue
        if other.car_id == new.car_id:
            raise BillingError(
                f"car {new.car_id} is driven by {other.driver_name} ({other.period}):"
                f" end that assignment first (its last day would be"
                f" {new.valid_from - timedelta(days=1)})"
            )
        if other.driver_id == new.driver_id:
            raise BillingError(
                f"{other.driver_name} drives car {other.car_id} ({other.period}): end that"
                " assignment first (a driver drives one car a day)"
            )


def check_end(assignment: Assignment, valid_to: date, closed_through: date | None) -> Assignment:
    """The assignment with its last day brought to ``valid_to``."""
    if valid_to < assignment.valid_from:
        raise BillingError(
            f"the assignment starts on {assignment.valid_from}: its last day cannot be {valid_to}"
        )
    if assignment.valid_to is not None and valid_to > assignment.valid_to:
        raise BillingError(
            f"the assignment already ends on {assignment.valid_to}: add a new one to extend it"
        )
    if closed_through is not None and valid_to <= closed_through:
        raise BillingError(
            f"{valid_to} is inside a closed month (closed through {closed_through}): the"
            " assignment applied there and stays as it was"
        )
    return Assignment(
        assignment.assignment_id,
        assignment.driver_id,
        assignment.driver_name,
        assignment.car_id,
        assignment.valid_from,
        valid_to,
    )


@dataclass(frozen=True, slots=True)
class CarSpell:
    """A tablet in a car (or in none) of a fleet, from ``since`` on (``tablet_cars``)."""

    tablet_id: str
    since: datetime
    fleet_id: str
    car_id: str | None


@dataclass(frozen=True, slots=True)
class Segment:
    """Days ``first`` … ``last`` of one tablet that belong to one fleet, car, driver and rate
    card: every plays and online row of those days is summed under this key."""

    tablet_id: str
    fleet_id: str
    car_id: str  # "" when the tablet was in no car
    driver_id: int  # 0 when nobody drove the car
    rate_version: int  # 0 when no card covered the days
    first: date
    last: date


def _car_ranges(
    spells: Sequence[CarSpell], first: date, last: date, day_end: Callable[[str, date], datetime]
) -> list[tuple[date, date, CarSpell]]:
    """The tablet's days by the spell in force when each day ended (days before its first
    spell belong to the first one)."""
    if len(spells) == 1:
        return [(first, last, spells[0])]
    out: list[tuple[date, date, CarSpell]] = []
    day = first
    while day <= last:
        held = spells[0]
        for spell in spells[1:]:
            if spell.since < day_end(spell.fleet_id, day):
                held = spell
        if out and out[-1][2] == held and out[-1][1] == day - timedelta(days=1):
            out[-1] = (out[-1][0], day, held)
        else:
            out.append((day, day, held))
        day += timedelta(days=1)
    return out


def _card_on(cards: Sequence[RateCard], day: date) -> int:
    for card in cards:
        if card.covers(day):
            return card.version
    return 0


def segments(
    spells: Sequence[CarSpell],
    first: date,
    last: date,
    day_end: Callable[[str, date], datetime],
    assignments: Mapping[str, Sequence[Assignment]],
    cards: Sequence[RateCard],
) -> list[Segment]:
    """One tablet's days ``first`` … ``last`` split where its car (when a day ended), the
    car's driver or the rate card changes; ``spells`` are the tablet's, oldest first, and
    ``assignments`` every car's."""
    out: list[Segment] = []
    for lo, hi, spell in _car_ranges(spells, first, last, day_end):
        car = spell.car_id or ""
        held = assignments.get(car, ()) if car else ()
        cuts = {lo, hi + timedelta(days=1)}
        for a in held:
            cuts |= {a.valid_from, (a.valid_to or date.max - timedelta(days=1)) + timedelta(days=1)}
        for c in cards:
            cuts |= {c.valid_from, (c.valid_to or date.max - timedelta(days=1)) + timedelta(days=1)}
        edges = sorted(x for x in cuts if lo <= x <= hi + timedelta(days=1))
        for start, stop in itertools.pairwise(edges):
            driver = driver_on(held, car, start)
            version = _card_on(cards, start)
            end = stop - timedelta(days=1)
            previous = out[-1] if out else None
            if (
                previous is not None
                and (previous.fleet_id, previous.car_id, previous.driver_id)
                == (spell.fleet_id, car, driver)
                and previous.rate_version == version
                and previous.last == start - timedelta(days=1)
            ):
                out[-1] = Segment(spell.tablet_id, spell.fleet_id, car, driver, version,
                                  previous.first, end)  # fmt: skip
            else:
                out.append(
                    Segment(spell.tablet_id, spell.fleet_id, car, driver, version, start, end)
                )
    return out
