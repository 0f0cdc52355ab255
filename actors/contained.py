"""Actors whose handlers cannot poison them: one raising message costs only itself.

Thespian retries a message whose handler raised and then drops it as a ``PoisonMessage``,
uncounted, on whatever the handler had half changed. :class:`ContainedActor` catches the
exception instead, puts the attributes named in ``ROLLBACK`` back as they were before the
message, and sends a :class:`~actors.effects.HandlerFailed` effect to the outbox (the hub
counts and logs it). Effects are sent only after a handler returned, so a failed message
has sent nothing.
"""

from __future__ import annotations

import copy
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from thespian.actors import ActorTypeDispatcher

from actors.effects import EffectBatch, HandlerFailed

log = logging.getLogger(__name__)

_CONTAINERS = (list, dict, set, deque)


def copy_state(value: Any) -> Any:
    """A copy that later in-place changes of ``value`` do not reach: containers shallow
    copied; a plain object (``TabletSession``) copied with its containers; anything else
    (slotted state such as ``LeadBook``) deep-copied; immutable values are kept."""
    if value is None or isinstance(value, (str, int, float, bool, tuple, frozenset)):
        return value
    if isinstance(value, _CONTAINERS):
        return copy.copy(value)
    if hasattr(value, "__dict__"):
        clone = copy.copy(value)
        for name, item in vars(clone).items():
            if isinstance(item, _CONTAINERS):
                setattr(clone, name, copy.copy(item))
        return clone
    return copy.deepcopy(value)


class ContainedActor(ActorTypeDispatcher):  # type: ignore[misc]  # thespian is untyped
    ROLLBACK: tuple[str, ...] = ()  # the attributes a failed message must leave unchanged
    KIND = "actor"

    outbox: Any = None

    def receiveMessage(self, message: Any, sender: Any) -> Any:
        return self.contained(message, lambda: super(ContainedActor, self).receiveMessage(
            message, sender))  # fmt: skip

    def contained(self, message: Any, handle: Callable[[], Any]) -> Any:
        """Run ``handle``; if it raises, restore the state and report the failure."""
        saved = {name: copy_state(getattr(self, name)) for name in self.ROLLBACK}
        try:
            return handle()
        except Exception as exc:
            for name, value in saved.items():
                setattr(self, name, value)
            self.report_failure(message, exc)
            return None

    def failure_key(self, message: Any) -> str:
        return str(getattr(message, "tablet_id", None) or getattr(message, "lead_id", "?"))

    def report_failure(self, message: Any, exc: Exception) -> None:
        failed = HandlerFailed(self.KIND, self.failure_key(message), type(message).__name__,
                               f"{type(exc).__name__}: {exc}"[:500])  # fmt: skip
        if self.outbox is None:  # not set up yet: nowhere to report but the log
            log.error("%s handler failed on %s for %s: %s", failed.actor, failed.message,
                      failed.key, failed.error)  # fmt: skip
            return
        self.send(self.outbox, EffectBatch((failed,)))
