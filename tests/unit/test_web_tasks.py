"""The panel's long-lived tasks survive store and broker errors; only shutdown ends them."""

from __future__ import annotations

import asyncio
import logging

import psycopg
import pytest

from config.errors import BrokerError
from tests.helpers import eventually
from web.live.tasks import Supervisor


async def test_a_task_that_fails_on_the_store_is_restarted_until_shutdown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = 0
    forever = asyncio.Event()

    async def feed() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise psycopg.OperationalError("the store went away")
        if runs == 2:
            raise ExceptionGroup("feed", [BrokerError("broker gone")])
        await forever.wait()

    async with Supervisor(first_delay_s=0.01) as tasks:
        tasks.start("web.feed", feed)
        await eventually(lambda: runs == 3)
        assert tasks.running() == {"web.feed"}
        assert tasks.restarts == {"web.feed": 2}
    assert tasks.running() == set()
    warnings = [r for r in caplog.records if r.name == "web.live.tasks"]
    assert [r.levelno for r in warnings] == [logging.WARNING, logging.WARNING]
    assert all(r.exc_info is None for r in warnings)  # an outage is not a crash


async def test_a_bug_is_logged_with_its_traceback_and_retried_and_a_one_shot_job_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    async def buggy() -> None:
        calls.append("buggy")
        if len(calls) == 1:
            raise KeyError("bug")
        await asyncio.Event().wait()

    async def warm() -> None:
        calls.append("warm")

    async with Supervisor(first_delay_s=0.01) as tasks:
        tasks.start("web.buggy", buggy)
        tasks.start("web.warm", warm)
        await eventually(lambda: calls.count("buggy") == 2)
        await eventually(lambda: tasks.running() == {"web.buggy"})
    assert tasks.restarts == {"web.buggy": 1}
    logged = [r for r in caplog.records if r.name == "web.live.tasks"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    caplog.clear()  # the logged traceback is this test's point, not a failure


async def test_shutdown_is_bounded_and_names_a_task_that_does_not_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A job that swallows its cancellation cannot hang the panel's shutdown."""
    release = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # ignores the cancellation until released

    tasks = Supervisor()
    tasks.start("web.stubborn", stubborn)
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await tasks.aclose(timeout_s=0.2)
    assert loop.time() - started < 2
    assert any("web.stubborn did not stop" in r.getMessage() for r in caplog.records)
    release.set()  # let it end, so that nothing outlives the test
    await eventually(lambda: tasks.running() == set())
