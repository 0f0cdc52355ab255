"""The pump thread: the one owner of the thespian ActorSystem.

The event loop puts inputs on a ``queue.SimpleQueue``; the pump hands them to the registry
in batches, ticks the watchdog, hands the round's timer requests to the watchdog and returns
the actors' effects (actors/system/outbox.py) to the loop in one ``call_soon_threadsafe``
per round. Thespian handles are not thread-safe and timers fire only while the owner is
inside ``tell``/``ask``, so nobody else touches the system.

A mark (:meth:`ActorPump.mark`) follows the inputs put before it: once a round
has handed every input up to the mark to the actors and returned their
effects, ``on_mark`` gets it, after the effects (the hub then waits for the
writer's commit before it acknowledges the messages to the broker).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from thespian.actors import ActorSystem

from actors.effects import Effect
from actors.messages import ArmBatch, Batch, DesiredMany, Setup, Stats, Tick
from actors.system.lead_router import LEAD_INPUTS, LeadRouterActor
from actors.system.outbox import Outbox
from actors.system.registry import RegistryActor
from actors.system.watchdog import WatchdogActor

log = logging.getLogger(__name__)

MAX_BATCH = 2000  # tablets' worth of inputs per round (a push's part counts each tablet)
ASK_TIMEOUT_S = 10.0

EffectSink = Callable[[list[Effect]], None]


class _Mark:
    __slots__ = ("seq",)

    def __init__(self, seq: int) -> None:
        self.seq = seq


class _StatsRequest:
    def __init__(self, future: asyncio.Future[dict[str, int]]) -> None:
        self.future = future


class ActorPump:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sink: EffectSink,
        tick_s: float = 0.2,
        on_mark: Callable[[int], None] | None = None,
    ) -> None:
        self._loop = loop
        self._sink = sink
        self._on_mark = on_mark
        self._tick_s = tick_s
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub.actors.pump", daemon=True)
        self._error: BaseException | None = None

    # --- loop side -------------------------------------------------------------

    def start(self) -> None:
        # thespian's simple base is one system per process: a second one running beside
        # the first breaks both (seen with two hubs in one test process).
        alive = [t for t in threading.enumerate() if t.name == self._thread.name]
        if alive:
            raise RuntimeError(
                "an actor pump already runs in this process; run one hub (shard) per process"
            )
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("actor system did not start within 30 s")
        if self._error is not None:
            raise RuntimeError("actor system failed to start") from self._error

    def put(self, item: Any) -> None:
        self._inbox.put(item)

    def mark(self, seq: int) -> None:
        """``on_mark(seq)`` once every input put before this is through the actors."""
        self._inbox.put(_Mark(seq))

    def backlog(self) -> int:
        return self._inbox.qsize()

    async def stats(self) -> dict[str, int]:
        future: asyncio.Future[dict[str, int]] = self._loop.create_future()
        self._inbox.put(_StatsRequest(future))
        return await asyncio.wait_for(future, ASK_TIMEOUT_S)

    def stop(self) -> None:
        self._stop.set()
        self._inbox.put(None)
        self._thread.join(timeout=30)

    # --- pump thread ---------------------------------------------------------

    def _run(self) -> None:
        try:
            system = ActorSystem("simpleSystemBase", logDefs=False)
            outbox = Outbox()
            watchdog = system.createActor(WatchdogActor)
            registry = system.createActor(RegistryActor)
            setup = Setup(outbox, watchdog, datetime.now(UTC))  # the hub's start
            system.tell(registry, setup)
            leads = system.createActor(LeadRouterActor)  # leads (issue #5): its own inputs
            system.tell(leads, setup)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise
        self._ready.set()
        next_tick = time.monotonic()
        try:
            while not self._stop.is_set():
                items = self._drain(max(0.0, next_tick - time.monotonic()))
                work = [i for i in items if i is not None and not isinstance(i, _PUMP_ONLY)]
                marks = [i.seq for i in items if isinstance(i, _Mark)]
                lead_work = [i for i in work if type(i) in LEAD_INPUTS]
                if lead_work:
                    work = [i for i in work if type(i) not in LEAD_INPUTS]
                    system.tell(leads, Batch(tuple(lead_work)))
                if work:
                    system.tell(registry, Batch(tuple(work)))
                if time.monotonic() >= next_tick:
                    system.tell(watchdog, Tick(datetime.now(UTC)))
                    next_tick = time.monotonic() + self._tick_s
                timers = outbox.take_timers()
                if timers:
                    system.tell(watchdog, ArmBatch(tuple(timers)))
                effects = outbox.take_effects()
                if effects:
                    self._loop.call_soon_threadsafe(self._sink, effects)
                if marks and self._on_mark is not None:  # after the effects: the loop's FIFO
                    self._loop.call_soon_threadsafe(self._on_mark, max(marks))
                for request in (i for i in items if isinstance(i, _StatsRequest)):
                    stats = system.ask(registry, Stats(), ASK_TIMEOUT_S)
                    self._loop.call_soon_threadsafe(_resolve, request.future, stats)
        except RuntimeError:
            if not self._loop.is_closed():
                raise
        finally:
            system.shutdown()

    def _drain(self, wait_s: float) -> list[Any]:
        try:
            items = [self._inbox.get(timeout=wait_s) if wait_s > 0 else self._inbox.get_nowait()]
        except queue.Empty:
            return []
        weight = _weight(items[0])
        while weight < MAX_BATCH:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            items.append(item)
            weight += _weight(item)
        return items


_PUMP_ONLY = (_StatsRequest, _Mark)


def _weight(item: Any) -> int:
    """The tablets an input is for: a fleet-wide push's part counts each of them, so its
    publishes reach the loop a round (≤ ``MAX_BATCH`` tablets) at a time."""
    return len(item.tablet_ids) if isinstance(item, DesiredMany) else 1


def _resolve(future: asyncio.Future[dict[str, int]], value: dict[str, int]) -> None:
    if not future.done():
        future.set_result(value)
