"""Actors whose handlers cannot poison them: one raising message costs only itself.

Left alone, thespian 4.0.1 (``simpleSystemBase``) calls a handler that raised twice more
with the same message (each call on what the last one half changed), logs each failure,
then sends the message back to its sender wrapped in a ``PoisonMessage`` and goes on,
counting nothing. Sent to the pump (an outside sender), that ``PoisonMessage`` is what the
pump's next ``ask`` gets back in place of its reply.
:class:`ContainedActor` catches the exception instead, on the first call: it puts the
attributes named in ``ROLLBACK`` back as they were before the message
(:meth:`ContainedActor.checkpoint`) and puts one :class:`~actors.effects.HandlerFailed`
effect in the pump's outbox (the hub counts it in ``handler_errors`` and logs it). Effects
are put there only after a handler returned, so a failed message has put nothing else.
Every actor of the pump's system is a ``ContainedActor``.
"""

from __future__ import annotations

import copy
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from thespian.actors import ActorTypeDispatcher

from actors.effects import Effect, HandlerFailed
from actors.messages import Arm
from actors.system.outbox import Outbox

log = logging.getLogger(__name__)

CONTAINERS = (list, dict, set, deque)


def copy_flat(value: Any) -> Any:
    """A copy of a plain object whose containers hold immutable values only (the tablet
    session: datetimes, frozen dataclasses): the object and its containers copied, their
    items shared. It runs before every heartbeat, so a class may name the attributes that
    can hold a container in ``FLAT_CONTAINERS``: only those are copied (under a microsecond
    for a tablet session, against six when every attribute is inspected). Without it, every
    attribute that holds a list, dict, set or deque is copied."""
    if value is None:
        return None
    state = vars(value).copy()
    names = getattr(value, "FLAT_CONTAINERS", None)
    if names is None:
        names = [name for name, item in state.items() if isinstance(item, CONTAINERS)]
    for name in names:
        state[name] = state[name].copy()
    clone = object.__new__(type(value))
    clone.__dict__ = state
    return clone


def restore_flat(target: Any, saved: Any) -> None:
    """Make ``target`` what ``saved`` (its :func:`copy_flat`) was, in place: whoever holds
    a reference to ``target`` sees the rollback too."""
    state = vars(target)
    state.clear()
    state.update(vars(saved))


class ContainedActor(ActorTypeDispatcher):  # type: ignore[misc]  # thespian is untyped
    ROLLBACK: tuple[str, ...] = ()  # the attributes a failed message must leave unchanged
    KIND = "actor"

    outbox: Outbox | None = None  # the pump's (actors/system/outbox.py), from set-up

    def receiveMessage(self, message: Any, sender: Any) -> Any:
        return self.contained(
            message, lambda: super(ContainedActor, self).receiveMessage(message, sender)
        )

    def checkpoint(self) -> dict[str, Any]:
        """The ``ROLLBACK`` attributes as they are now (deep copies: nothing the handler
        changes in place reaches them)."""
        return {name: copy.deepcopy(getattr(self, name)) for name in self.ROLLBACK}

    def contained(self, message: Any, handle: Callable[[], Any]) -> Any:
        """Run ``handle``; if it raises, restore the state and report the failure."""
        saved = self.checkpoint()
        try:
            return handle()
        except Exception as exc:
            self.restore(saved)
            self.report_failure(message, exc)
            return None

    def restore(self, saved: dict[str, Any]) -> None:
        """Put the ``ROLLBACK`` attributes back as :meth:`checkpoint` saw them."""
        for name, value in saved.items():
            setattr(self, name, value)

    def failure_key(self, message: Any) -> str:
        return str(getattr(message, "tablet_id", None) or getattr(message, "lead_id", "?"))

    def failure(self, message: Any, exc: Exception) -> HandlerFailed:
        return HandlerFailed(
            self.KIND,
            self.failure_key(message),
            type(message).__name__,
            f"{type(exc).__name__}: {exc}"[:500],
        )

    def emit(self, effects: Iterable[Effect], timers: Iterable[Arm] = ()) -> None:
        """Put what a handler produced in the pump's outbox."""
        if self.outbox is None:
            raise RuntimeError(f"the {self.KIND} actor has no outbox yet")
        self.outbox.put(effects, timers)

    def report_failure(self, message: Any, exc: Exception) -> None:
        failed = self.failure(message, exc)
        if self.outbox is None:  # not set up yet: nowhere to report but the log
            log.error(
                "%s handler failed on %s for %s: %s",
                failed.actor,
                failed.message,
                failed.key,
                failed.error,
            )
            return
        self.outbox.put((failed,))
