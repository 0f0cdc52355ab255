"""store/listen.py against the real store: delivers, reconnects after its backend is killed."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from store.listen import listen
from tests.helpers import eventually

Conn = psycopg.Connection[tuple[Any, ...]]

TERMINATE = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s"


async def test_it_delivers_and_after_its_backend_is_terminated_reconnects_and_resyncs(
    database_url: str, conn: Conn
) -> None:
    tag = uuid.uuid4().hex[:8]
    channel, app_name = f"test_listen_{tag}", f"test-listen-{tag}"
    url = make_conninfo(database_url, application_name=app_name)  # to find its backend
    got: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    connected: list[int] = []
    lost: list[BaseException] = []

    async def on_notify(channel: str, payload: str) -> None:
        await got.put((channel, payload))

    async def on_connected() -> None:
        connected.append(len(lost))

    listener = listen(
        url,
        [channel],
        on_notify,
        name="test.listen",
        on_connected=on_connected,
        on_lost=lost.append,
        wait_initial=0.05,
        wait_max=0.2,
    )
    task = asyncio.create_task(listener, name="test.listen")
    try:
        await eventually(lambda: connected == [0])
        conn.execute("SELECT pg_notify(%s, 'one')", (channel,))
        assert await asyncio.wait_for(got.get(), 5) == (channel, "one")

        killed = conn.execute(TERMINATE, (app_name,)).fetchall()
        assert killed == [(True,)]  # its one backend
        await eventually(lambda: connected == [0, 1])  # the hook ran again, after the loss
        assert len(lost) == 1
        assert isinstance(lost[0], psycopg.OperationalError)
        conn.execute("SELECT pg_notify(%s, 'two')", (channel,))
        assert await asyncio.wait_for(got.get(), 5) == (channel, "two")
        assert got.empty()
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_error_of_its_caller_ends_it(database_url: str, conn: Conn) -> None:
    """Only the errors ``on`` names are retried: a caller's bug is the caller's supervisor's."""
    channel = f"test_listen_{uuid.uuid4().hex[:8]}"
    listening = asyncio.Event()

    async def on_notify(channel: str, payload: str) -> None:
        raise ValueError(payload)

    async def on_connected() -> None:
        listening.set()

    task = asyncio.create_task(
        listen(database_url, [channel], on_notify, name="test.listen", on_connected=on_connected),
        name="test.listen",
    )
    await asyncio.wait_for(listening.wait(), 5)
    conn.execute("SELECT pg_notify(%s, 'not json')", (channel,))
    with pytest.raises(ValueError, match="not json"):
        await asyncio.wait_for(task, 5)
