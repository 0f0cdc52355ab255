"""The outbox actor gathers effects until the pump flushes them to the event loop."""

from __future__ import annotations

from typing import Any

from thespian.actors import ActorTypeDispatcher

from actors.effects import Effect, EffectBatch
from actors.messages import Flush


class OutboxActor(ActorTypeDispatcher):  # type: ignore[misc]  # thespian is untyped
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending: list[Effect] = []

    def receiveMsg_EffectBatch(self, msg: EffectBatch, sender: Any) -> None:
        self.pending.extend(msg.effects)

    def receiveMsg_Flush(self, msg: Flush, sender: Any) -> None:
        out, self.pending = self.pending, []
        self.send(sender, out)

    def receiveUnrecognizedMessage(self, msg: Any, sender: Any) -> None:
        """Unknown messages are dropped."""
