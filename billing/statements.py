"""A month's statements from its priced lines: one per fleet, one per driver who drove in it.

Lines of the month itself are the statement's lines; lines of earlier periods are the
adjustments it carries for closed months (:mod:`billing.adjust`). A driver's statement holds
exactly the lines whose key names them, so the drivers' totals and the fleet's ``driver``
column always agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from billing.documents import Statement
from billing.lines import Line
from billing.money import Currency


def _order(x: Line) -> tuple[object, ...]:
    k = x.key  # a plain tuple sorts in C, the dataclass's own comparison in Python
    return (k.period, k.fleet_id, k.car_id, k.driver_id, k.kind, k.campaign_id, k.rate_version)


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    fleet_id: str
    timezone: str


def build(
    month: date,
    currency: Currency,
    lines: Iterable[Line],
    fleets: dict[str, Party],
    drivers: dict[int, Party],
) -> tuple[list[Statement], list[Statement]]:
    """(fleet statements, driver statements) of ``month``: one per fleet in ``fleets`` and
    one per driver in ``drivers``, even without a line. Lines of a fleet or driver not given
    are left out (the caller's scope)."""
    by_fleet: dict[str, list[Line]] = defaultdict(list)
    by_driver: dict[int, list[Line]] = defaultdict(list)
    for x in sorted(lines, key=_order):
        if x.key.fleet_id in fleets:
            by_fleet[x.key.fleet_id].append(x)
        if x.key.driver_id in drivers:
            by_driver[x.key.driver_id].append(x)
    names = {d: p.name for d, p in drivers.items()}

    def statement(kind: str, party: str, who: Party, held: list[Line]) -> Statement:
        return Statement(
            kind,  # type: ignore[arg-type]
            party,
            who.name,
            who.fleet_id,
            month,
            currency,
            who.timezone,
            tuple(x for x in held if x.key.period == month),
            tuple(x for x in held if x.key.period != month),
            driver_names={
                x.key.driver_id: names[x.key.driver_id] for x in held if x.key.driver_id in names
            },
        )

    fleet_docs = [statement("fleet", f, p, by_fleet[f]) for f, p in sorted(fleets.items())]
    driver_docs = [
        statement("driver", str(d), p, by_driver[d])
        for d, p in sorted(drivers.items(), key=lambda item: (item[1].name, item[0]))
    ]
    return fleet_docs, driver_docs
