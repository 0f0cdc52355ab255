"""The one retry helper (config/retry.py): what is retried, the growing delay, its reset."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import pytest

from config.retry import matches, reconnecting, until_done


class Down(Exception):
    """Stands for a store or broker outage."""


def test_a_group_matches_only_when_all_its_errors_do() -> None:
    assert matches(Down(), (Down,))
    assert matches(ExceptionGroup("g", [Down(), ExceptionGroup("h", [Down()])]), (Down,))
    assert not matches(ExceptionGroup("g", [Down(), KeyError()]), (Down,))
    assert not matches(asyncio.CancelledError(), (Exception,))


async def test_a_step_is_retried_until_it_returns_and_other_errors_end_it() -> None:
    calls = 0

    async def step() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise Down
        return "done"

    assert await until_done(step, on=(Down,), wait_initial=0.01, wait_max=0.02) == "done"
    assert calls == 3

    async def bug() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await until_done(bug, on=(Down,), wait_initial=0.01, wait_max=0.02)


async def test_the_delay_grows_while_sessions_fail_and_starts_over_once_one_was_up() -> None:
    starts: list[float] = []

    async def session(up: Callable[[], None]) -> None:
        starts.append(time.monotonic())
        if len(starts) == 4:
            up()  # connected, then lost
        if len(starts) < 6:
            raise Down
        # the sixth session returns: the loop is done

    await reconnecting(session, on=(Down,), wait_initial=0.05, wait_max=1.0)
    waits = [b - a for a, b in itertools.pairwise(starts)]
    assert len(waits) == 5
    # 0.05, 0.1, 0.2 (each plus up to 0.05 of jitter), then after the lost session 0.05 again
    assert waits[0] < waits[2]
    assert waits[2] >= 0.2
    assert waits[3] < 0.15  # started over
    assert waits[4] < 0.15


async def test_cancellation_ends_a_reconnect_loop_during_its_wait() -> None:
    calls = 0

    async def session(up: Callable[[], None]) -> None:
        nonlocal calls
        calls += 1
        raise Down

    task = asyncio.create_task(
        reconnecting(session, on=(Down,), wait_initial=5.0, wait_max=5.0), name="test.retry"
    )
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls == 1
