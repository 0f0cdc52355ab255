"""The outbox: where the actors put their effects and timer requests until the pump's round
ends, when the pump hands the effects to the event loop and the timers to the watchdog.

It is a plain object every actor of the pump's system holds, not an actor. They all run on
the pump thread, inside the pump's ``tell`` (thespian's ``simpleSystemBase``), so nothing else
touches it, and effects land in the order the handlers ran. An outbox actor cost one thespian
delivery per handled message: 3.5 µs of the 17 µs the actors spent per heartbeat
(``fleethub bench --actors``, docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from actors.effects import Effect
from actors.messages import Arm


class Outbox:
    __slots__ = ("effects", "timers")

    def __init__(self) -> None:
        self.effects: list[Effect] = []
        self.timers: list[Arm] = []

    def put(self, effects: Iterable[Effect], timers: Iterable[Arm] = ()) -> None:
        """What one handler produced, after it returned (a failed message puts nothing but
        its :class:`~actors.effects.HandlerFailed`)."""
        self.effects.extend(effects)
        self.timers.extend(timers)

    def take_timers(self) -> list[Arm]:
        timers, self.timers = self.timers, []
        return timers

    def take_effects(self) -> list[Effect]:
        effects, self.effects = self.effects, []
        return effects
