"""One watchdog actor holds every tablet's deadlines in a heap (no per-tablet timers).

Thespian's per-actor ``wakeupAfter`` cannot be cancelled and the simple base
scans all pending wakeups on each delivery; a heap with lazy re-arming costs a
few microseconds per heartbeat and stays as large as the number of armed
timers, not the number of heartbeats.
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any

from actors.messages import Arm, ArmBatch, Expired, Setup, Tick, TimerKind
from actors.system.contained import ContainedActor

Key = tuple[str, TimerKind]


class Deadlines:
    """Pure heap logic, used by the actor and tested on its own."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, str, TimerKind]] = []
        self._current: dict[Key, datetime] = {}

    def __len__(self) -> int:
        return len(self._current)

    def arm(self, tablet_id: str, kind: TimerKind, deadline: datetime | None) -> None:
        key = (tablet_id, kind)
        if deadline is None:
            self._current.pop(key, None)
            return
        before = self._current.get(key)
        self._current[key] = deadline
        if before is None or deadline < before:
            heapq.heappush(self._heap, (deadline, tablet_id, kind))
            if len(self._heap) > 2 * len(self._current) + 32:
                self._compact()

    def _compact(self) -> None:
        """Drop entries of cleared or moved timers (clear-and-re-arm cycles leave them)."""
        self._heap = [(d, t, k) for (t, k), d in self._current.items()]
        heapq.heapify(self._heap)

    def due(self, now: datetime) -> list[tuple[str, TimerKind, datetime]]:
        fired: list[tuple[str, TimerKind, datetime]] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, tablet_id, kind = heapq.heappop(heap)
            key = (tablet_id, kind)
            current = self._current.get(key)
            if current is None or current < deadline:
                continue  # cleared, or an earlier entry already handles it
            if current > deadline:
                heapq.heappush(heap, (current, tablet_id, kind))  # extended: re-arm lazily
                continue
            del self._current[key]
            fired.append((tablet_id, kind, deadline))
        return fired


class WatchdogActor(ContainedActor):
    """A handler that raises is reported to the outbox; the heap is not rolled back (too
    large to copy per message)."""

    KIND = "watchdog"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadlines = Deadlines()
        self.registry: Any = None

    def receiveMsg_Setup(self, msg: Setup, sender: Any) -> None:
        self.registry, self.outbox = sender, msg.outbox

    def receiveMsg_Arm(self, msg: Arm, sender: Any) -> None:
        self.deadlines.arm(msg.tablet_id, msg.kind, msg.deadline)

    def receiveMsg_ArmBatch(self, msg: ArmBatch, sender: Any) -> None:
        arm = self.deadlines.arm
        for timer in msg.timers:
            arm(timer.tablet_id, timer.kind, timer.deadline)

    def receiveMsg_Tick(self, msg: Tick, sender: Any) -> None:
        for tablet_id, kind, deadline in self.deadlines.due(msg.now):
            self.send(self.registry, Expired(tablet_id, kind, deadline, msg.now))

    def receiveUnrecognizedMessage(self, msg: Any, sender: Any) -> None:
        """Unknown messages are dropped."""
