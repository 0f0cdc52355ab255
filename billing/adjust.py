"""Adjustments: what changed in a closed month since it was billed.

A closed month's documents never change. When data for it arrives later (plays a tablet kept
offline, a lead credited after a dispute), the month is priced again as it stands now and
compared, key by key, with everything already billed for it (its frozen lines and earlier
adjustments); each difference becomes one adjustment line in the first open month after it.
The billed amounts plus the adjustments then always equal the month priced now.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Protocol, Self, TypeVar


class Adjustable(Protocol):
    @property
    def key(self) -> Hashable: ...

    @property
    def is_zero(self) -> bool: ...

    def minus(self, other: Self) -> Self: ...

    def plus(self, other: Self) -> Self: ...


T = TypeVar("T", bound=Adjustable)


def summed(lines: Iterable[T]) -> dict[Hashable, T]:
    """The lines added up per key."""
    out: dict[Hashable, T] = {}
    for line in lines:
        held = out.get(line.key)
        out[line.key] = line if held is None else held.plus(line)
    return out


def adjustments(live: Iterable[T], billed: Iterable[T]) -> list[T]:
    """One line per key where ``live`` (the month priced now) differs from ``billed``, in
    key order; a key billed but no longer live is taken back whole."""
    now, then = summed(live), summed(billed)
    out: list[T] = []
    for key in sorted(now.keys() | then.keys()):  # type: ignore[type-var]  # keys are ordered
        current, before = now.get(key), then.get(key)
        if current is None:
            assert before is not None
            delta = before.minus(before).minus(before)
        elif before is None:
            delta = current
        else:
            delta = current.minus(before)
        if not delta.is_zero:
            out.append(delta)
    return out
