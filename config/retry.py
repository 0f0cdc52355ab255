"""Jittered exponential backoff for every retry and reconnect loop of fleethub, on stamina.

Two shapes retry without limit until cancelled (:func:`attempts` is the one that gives up):

- :func:`until_done` awaits one step again until it returns (commit a batch, store a lead
  effect). Each call starts its delays over, so a success resets them.
- :func:`reconnecting` runs a session again and again (a broker session, the store
  listener, a panel task). The delay grows while sessions fail and starts over once a
  session has called its ``up()`` (connected, subscribed, listening): the first wait after
  a lost session is ``wait_initial`` again. A session that returns ends the loop.

Only the errors ``on`` names are retried (an exception group when all its errors are);
any other error, and cancellation, ends the loop at once. The delay after failure ``n`` is
``wait_initial * 2**(n-1)`` plus up to ``wait_initial`` of jitter, capped at ``wait_max``.
Callers log and count each failure themselves (stamina also logs each retry it schedules).
Tests pass short waits rather than :func:`stamina.set_testing`, whose attempt cap would end
loops that are meant to run until cancelled.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import stamina

T = TypeVar("T")

Errors = tuple[type[BaseException], ...]
Session = Callable[[Callable[[], None]], Awaitable[None]]


def matches(exc: BaseException, on: Errors) -> bool:
    """``exc`` is one of ``on``, or a group whose errors all are."""
    if isinstance(exc, BaseExceptionGroup):
        return all(matches(e, on) for e in exc.exceptions)
    return isinstance(exc, on)


async def until_done(
    step: Callable[[], Awaitable[T]], *, on: Errors, wait_initial: float, wait_max: float
) -> T:
    """``await step()`` until it returns, waiting longer after each error in ``on``."""
    caller = stamina.AsyncRetryingCaller(
        attempts=None,
        timeout=None,
        wait_initial=wait_initial,
        wait_max=wait_max,
        wait_jitter=wait_initial,
    )
    return await caller(lambda exc: matches(exc, on), step)


class _Round:
    """One round of growing delays: it ends once a session has called :meth:`up`."""

    def __init__(self, on: Errors, wait_initial: float) -> None:
        self.on, self.wait_initial = on, wait_initial
        self.came_up = False

    def up(self) -> None:
        self.came_up = True

    def retry_after(self, exc: BaseException) -> bool | float:
        """stamina's hook: retry ``exc``? After a session that was up, wait the first delay."""
        if not matches(exc, self.on):
            return False
        if self.came_up:
            return self.wait_initial + random.uniform(0, self.wait_initial)  # noqa: S311
        return True


async def reconnecting(
    session: Session, *, on: Errors, wait_initial: float, wait_max: float
) -> None:
    """Run ``await session(up)`` again after each error in ``on``, until it returns."""
    while True:
        round_ = _Round(on, wait_initial)
        async for attempt in stamina.retry_context(
            on=round_.retry_after,
            attempts=None,
            timeout=None,
            wait_initial=wait_initial,
            wait_max=wait_max,
            wait_jitter=wait_initial,
        ):
            if round_.came_up:
                break  # waited after a lost session: a fresh round of delays
            with attempt:
                await session(round_.up)
        else:
            return  # the session returned


async def attempts(
    step: Callable[[], Awaitable[T]],
    *,
    on: Callable[[BaseException], bool],
    attempts: int,
    wait_initial: float,
    wait_max: float,
) -> T:
    """``await step()`` at most ``attempts`` times while ``on(error)`` says the error is worth
    another try (an alert's send: a 5xx or a timeout, not a 4xx), waiting longer each time; the
    last error is raised. Unlike the loops above it gives up."""
    caller = stamina.AsyncRetryingCaller(
        attempts=attempts,
        timeout=None,
        wait_initial=wait_initial,
        wait_max=wait_max,
        wait_jitter=wait_initial,
    )
    return await caller(on, step)
