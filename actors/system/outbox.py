"""The outbox actor gathers effects until the pump flushes them to the event loop."""

from __future__ import annotations

from typing import Any

from thespian.actors import ActorTypeDispatcher

from actors.effects import Effect, EffectBatch
from actors.messages import Arm, ArmBatch, Flush, Setup


class OutboxActor(ActorTypeDispatcher):  # type: ignore[misc]  # thespian is untyped
    """Gathers the tablets' effects (for the hub) and timer requests (for the watchdog)."""

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
