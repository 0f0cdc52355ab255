"""Driver assignments: which driver drove which car, from one local day to another
(inclusive; open ended while ``valid_to`` is None).

A car has one driver on a day and a driver one car, so every day of a car's plays and online
hours belongs to exactly one driver or to none: a change of driver mid-month splits the
month at that day, exactly. Assignments never reach into a closed month.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from billing.errors import BillingError


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
