"""The outbox actor gathers effects until the pump flushes them to the event loop."""

from __future__ import annotations

from typing import Any

from actors.effects import Effect, EffectBatch
from actors.messages import Arm, ArmBatch, Flush, Setup
from actors.system.contained import ContainedActor


class OutboxActor(ContainedActor):
    """Gathers the tablets' effects (for the hub) and timer requests (for the watchdog).

    A handler that raises is reported in the next flush, as every actor's failure is."""

    KIND = "outbox"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending: list[Effect] = []
        self.timers: list[Arm] = []
        self.watchdog: Any = None

    def receiveMsg_Setup(self, msg: Setup, sender: Any) -> None:
        self.watchdog = msg.watchdog

    def receiveMsg_EffectBatch(self, msg: EffectBatch, sender: Any) -> None:
        self.pending.extend(msg.effects)
        self.timers.extend(msg.timers)

    def receiveMsg_Flush(self, msg: Flush, sender: Any) -> None:
        if self.timers:
            timers, self.timers = self.timers, []
            self.send(self.watchdog, ArmBatch(tuple(timers)))
        out, self.pending = self.pending, []
        self.send(sender, out)

    def receiveUnrecognizedMessage(self, msg: Any, sender: Any) -> None:
        """Unknown messages are dropped."""

    def report_failure(self, message: Any, exc: Exception) -> None:
        self.pending.append(self.failure(message, exc))
