"""`SimFleet`: thousands of simulated tablets in one event loop, for load tests and benchmarks.

The fleet connects its tablets at a bounded rate over a few loopback source
addresses, reconnects lost ones with jittered exponential backoff, can churn
(drop a random share now and then and bring it back later) and can drive
heartbeats at an exact aggregate rate. Everything it starts lives inside
:meth:`SimFleet.running` and ends with it, at the latest after ``max_lifetime_s``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import resource
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

from broker.mqttwire.connection import MqttConnection
from devtools.simulator.addresses import FIRST_SOURCE, loopback_host, source_addresses, spread
from devtools.simulator.content import ContentConfig, TabletContent
from devtools.simulator.downloads import MediaClient
from devtools.simulator.errors import MqttWireError, SimulatorError
from devtools.simulator.stats import FleetStats
from devtools.simulator.tablet import PlaylistHook, SimTablet, TabletConfig

log = logging.getLogger(__name__)

MAX_TABLETS = 50_000
MAX_BLAST_S = 3_600.0
SPARE_FILE_DESCRIPTORS = 64
CLOSE_TIMEOUT_S = 5.0
BLAST_TICK_S = 0.005

SentHook = Callable[[str, int, float], None]
"""``on_sent(tablet_id, seq, sent_monotonic)`` for every heartbeat :meth:`SimFleet.blast` sends."""


@dataclass(frozen=True, slots=True)
class ChurnConfig:
    """Every ``interval_s``, drop ``fraction`` of the online tablets abruptly.

    Each comes back after a downtime drawn from ``downtime_s``, as a new boot
    with probability ``reboot_probability``, else as the same boot.
    """

    interval_s: float
    fraction: float
    downtime_s: tuple[float, float] = (1.0, 10.0)
    reboot_probability: float = 0.5

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or not 0.0 <= self.fraction <= 1.0:
            raise ValueError("churn needs interval_s > 0 and fraction within 0..1")
        low, high = self.downtime_s
        if not 0.0 <= low <= high:
            raise ValueError("churn downtime_s must be (low, high) with 0 <= low <= high")


@dataclass(frozen=True, slots=True)
class BlastResult:
    sent: int
    failed: int
    elapsed_s: float

    @property
    def rate_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


def ensure_fd_limit(connections: int) -> int:
    """Raise the soft open-files limit so ``connections`` sockets fit; return the limit.

    Raises :class:`SimulatorError` when even the hard limit is too low.
    """
    needed = connections + SPARE_FILE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SimulatorError(
            f"{connections} connections need {needed} open files; the hard limit is {hard}"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


class SimFleet:
    """Tablets given as ``(tablet_id, password)``; client id and username are the tablet id.

    Use it as ``async with fleet.running(): ...``: on entry the fleet starts
    connecting in the background (see :meth:`wait_connected`); on exit every
    tablet publishes its offline status and disconnects.
    """

    def __init__(
        self,
        credentials: Iterable[tuple[str, str | None]],
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        per_address: int = 5_000,
        first_source: str = FIRST_SOURCE,
        connect_rate_per_s: float = 2_000.0,
        connect_concurrency: int = 256,
        tablet_config: TabletConfig | None = None,
        churn: ChurnConfig | None = None,
        on_playlist: PlaylistHook | None = None,
        reconnect_backoff_s: tuple[float, float] = (0.5, 30.0),
        max_lifetime_s: float = 3_600.0,
        seed: int | None = None,
        content: ContentConfig | None = None,
    ) -> None:
        pairs = list(credentials)
        if not 0 < len(pairs) <= MAX_TABLETS:
            raise ValueError(f"a fleet holds 1..{MAX_TABLETS} tablets, not {len(pairs)}")
        if connect_rate_per_s <= 0 or connect_concurrency < 1 or max_lifetime_s <= 0:
            raise ValueError("connect rate, concurrency and lifetime must be positive")
        host = loopback_host(host)
        addresses = source_addresses(len(pairs), per_address, first_source)
        self.stats = FleetStats()
        self._rng = random.Random(seed)  # noqa: S311 - simulation, not security
        self._tablets: dict[str, SimTablet] = {}
        # Content (None: tablets ack manifests at once and play nothing): one HTTP pool, and
        # the tablets' download tasks in the fleet's task group.
        self.media = MediaClient() if content is not None else None
        self._group: asyncio.TaskGroup | None = None
        self._content_tasks: set[asyncio.Task[None]] = set()
        for index, (tablet_id, password) in enumerate(pairs):
            if not tablet_id or any(char in tablet_id for char in "/+#"):
                raise ValueError(f"tablet id {tablet_id!r} cannot be a topic level")
            if tablet_id in self._tablets:
                raise ValueError(f"tablet id {tablet_id!r} given twice")
            self._tablets[tablet_id] = SimTablet(
                tablet_id,
                password,
                host=host,
                port=port,
                source_ip=spread(index, addresses),
                config=tablet_config,
                stats=self.stats,
                rng=self._rng,
                on_playlist=on_playlist,
                on_lost=self._on_lost,
                content=(
                    TabletContent(
                        tablet_id, content, self.media, self._spawn, self.stats, self._rng
                    )
                    if content is not None and self.media is not None
                    else None
                ),
            )
        self.source_addresses = addresses
        self._connect_interval = 1.0 / connect_rate_per_s
        self._connect_concurrency = connect_concurrency
        self._churn = churn
        self._backoff = reconnect_backoff_s
        self._max_lifetime_s = max_lifetime_s
        # the connect schedule: (due loop time, tie-breaker, tablet, reboot)
        self._due: list[tuple[float, int, SimTablet, bool]] = []
        self._scheduled: set[str] = set()
        self._ticket = itertools.count()
        self._attempts: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        self._all_online: asyncio.Event | None = None
        self._started_at: float | None = None
        self.connect_elapsed_s: float | None = None
        """Seconds from entering :meth:`running` until every tablet was online at once."""

    # -- inspection -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._tablets)

    def tablet(self, tablet_id: str) -> SimTablet:
        return self._tablets[tablet_id]

    def tablets(self) -> list[SimTablet]:
        return list(self._tablets.values())

    # -- lifecycle ------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SimFleet]:
        """Run the fleet for the duration of the ``async with`` body.

        Leaving the body stops it. So does ``max_lifetime_s``: the body is then
        cancelled and ``TimeoutError`` raised.
        """
        if self._wake is not None:
            raise SimulatorError("this fleet is already running")
        ensure_fd_limit(len(self._tablets))
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._all_online = asyncio.Event()
        self._started_at = loop.time()
        self.connect_elapsed_s = None
        for tablet in self._tablets.values():
            self._schedule(tablet, 0.0, reboot=True)
        body_error: Exception | None = None
        try:
            async with asyncio.timeout(self._max_lifetime_s), asyncio.TaskGroup() as group:
                self._group = group
                background = [group.create_task(self._connector(group), name="sim.fleet.connector")]
                if self._churn is not None:
                    churn = group.create_task(self._churn_loop(self._churn), name="sim.fleet.churn")
                    background.append(churn)
                try:
                    yield self
                except Exception as exc:
                    body_error = exc  # re-raised below as itself, not in an ExceptionGroup
                finally:
                    self._group = None
                    for task in [*background, *self._attempts, *self._content_tasks]:
                        task.cancel()
                    self._wake = None
                    await self._close_all()
                    if self.media is not None:
                        await self.media.close()
        finally:
            self._group = None
            self._wake = None
            self._due.clear()
            self._scheduled.clear()
        if body_error is not None:
            raise body_error

    async def run(self, duration_s: float) -> FleetStats:
        """Run for ``duration_s`` seconds, then stop; the final counters."""
        async with self.running():
            await asyncio.sleep(duration_s)
        return self.stats

    def in_flight(self) -> int:
        """QoS 1 publishes of all tablets still awaiting their PUBACK."""
        return sum(t.in_flight for t in self._tablets.values())

    async def wait_connected(self) -> float:
        """Wait until every tablet has been online at once; return ``connect_elapsed_s``.

        Bound it with ``asyncio.timeout``: tablets the broker refuses never connect.
        """
        if self._all_online is None:
            raise SimulatorError("the fleet is not running")
        await self._all_online.wait()
        assert self.connect_elapsed_s is not None
        return self.connect_elapsed_s

    def drop(
        self, tablet_id: str, *, reconnect_after_s: float | None = None, reboot: bool = False
    ) -> bool:
        """Drop one tablet abruptly (the broker sends its will); maybe bring it back later."""
        tablet = self._tablets[tablet_id]
        if not tablet.online:
            return False
        tablet.drop()
        self.stats.drops += 1
        if reconnect_after_s is not None:
            self._schedule(tablet, reconnect_after_s, reboot=reboot)
        return True

    # -- heartbeat probe ------------------------------------------------------

    async def blast(
        self, rate_per_s: float, duration_s: float, on_sent: SentHook | None = None
    ) -> BlastResult:
        """Send heartbeats at ``rate_per_s`` in aggregate for ``duration_s``.

        The sends go round-robin over the online tablets, each carrying that
        tablet's next ``seq``; ``on_sent`` gets the time each left. Sends that
        cannot happen (no tablet online, backpressure) count as ``failed``.
        """
        if rate_per_s <= 0 or not 0 < duration_s <= MAX_BLAST_S:
            raise ValueError(f"blast needs rate > 0 and 0 < duration <= {MAX_BLAST_S}s")
        tablets = list(self._tablets.values())
        loop = asyncio.get_running_loop()
        start = loop.time()
        total = round(rate_per_s * duration_s)
        sent = failed = cursor = 0
        while True:
            now = loop.time()
            elapsed = now - start
            due = total if elapsed >= duration_s else min(total, int(elapsed * rate_per_s))
            while sent + failed < due:
                tablet = None
                for _ in range(len(tablets)):
                    candidate = tablets[cursor]
                    cursor = (cursor + 1) % len(tablets)
                    if candidate.online:
                        tablet = candidate
                        break
                if tablet is None:  # nobody online: the rest of this tick cannot be sent
                    failed += due - sent - failed
                    break
                seq = tablet.send_heartbeat()
                if seq is None:
                    failed += 1
                    continue
                sent += 1
                if on_sent is not None:
                    on_sent(tablet.tablet_id, seq, time.monotonic())
            if sent + failed >= total:
                return BlastResult(sent, failed, loop.time() - start)
            await asyncio.sleep(min(BLAST_TICK_S, max(0.0, start + duration_s - loop.time())))

    # -- internals ------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run a tablet's download in the fleet's task group (dropped once it stopped)."""
        if self._group is None:
            work.close()
            return
        task = self._group.create_task(_guarded(work, name), name=name)
        self._content_tasks.add(task)
        task.add_done_callback(self._content_tasks.discard)

    def _schedule(self, tablet: SimTablet, delay_s: float, *, reboot: bool) -> None:
        if self._wake is None or tablet.tablet_id in self._scheduled:
            return
        due = asyncio.get_running_loop().time() + delay_s
        heapq.heappush(self._due, (due, next(self._ticket), tablet, reboot))
        self._scheduled.add(tablet.tablet_id)
        self._wake.set()

    def _on_lost(self, tablet: SimTablet) -> None:
        tablet.reconnect_attempts += 1
        self._schedule(tablet, self._backoff_s(tablet.reconnect_attempts), reboot=False)

    def _backoff_s(self, attempts: int) -> float:
        base, cap = self._backoff
        delay: float = min(cap, base * 2.0 ** min(attempts - 1, 30))
        return delay * self._rng.uniform(0.5, 1.0)

    async def _connector(self, group: asyncio.TaskGroup) -> None:
        """Start due connects, at most one per connect interval and ``concurrency`` at once."""
        loop = asyncio.get_running_loop()
        wake = self._wake
        assert wake is not None
        slots = asyncio.Semaphore(self._connect_concurrency)
        next_slot = loop.time()
        while True:
            if not self._due:
                wake.clear()
                await wake.wait()
                continue
            now = loop.time()
            if self._due[0][0] > now:
                wake.clear()
                with suppress(TimeoutError):  # not wait_for: 3.11's may eat a cancel
                    async with asyncio.timeout(self._due[0][0] - now):
                        await wake.wait()
                continue
            slot = max(next_slot, now)
            if slot > now:
                await asyncio.sleep(slot - now)
            next_slot = slot + self._connect_interval
            await slots.acquire()
            _, _, tablet, reboot = heapq.heappop(self._due)
            self._scheduled.discard(tablet.tablet_id)
            task = group.create_task(self._attempt(tablet, reboot, slots), name="sim.fleet.connect")
            self._attempts.add(task)
            task.add_done_callback(self._attempts.discard)

    async def _attempt(self, tablet: SimTablet, reboot: bool, slots: asyncio.Semaphore) -> None:
        try:
            if tablet.online:
                return
            await tablet.start(reboot=reboot)
        except (SimulatorError, MqttWireError) as exc:
            self.stats.connect_failures += 1
            tablet.reconnect_attempts += 1
            log.debug("tablet %s did not connect: %s", tablet.tablet_id, exc)
            self._schedule(tablet, self._backoff_s(tablet.reconnect_attempts), reboot=reboot)
        finally:
            slots.release()
        if self.stats.connected == len(self._tablets) and self.connect_elapsed_s is None:
            assert self._started_at is not None
            assert self._all_online is not None
            self.connect_elapsed_s = asyncio.get_running_loop().time() - self._started_at
            self._all_online.set()

    async def _churn_loop(self, churn: ChurnConfig) -> None:
        while True:
            await asyncio.sleep(churn.interval_s)
            online = [tablet for tablet in self._tablets.values() if tablet.online]
            for tablet in self._rng.sample(online, round(len(online) * churn.fraction)):
                self.drop(
                    tablet.tablet_id,
                    reconnect_after_s=self._rng.uniform(*churn.downtime_s),
                    reboot=self._rng.random() < churn.reboot_probability,
                )

    async def _close_all(self) -> None:
        closing: list[MqttConnection] = []
        for tablet in self._tablets.values():
            if tablet.content is not None:
                tablet.content.flush_plays()  # the last plays, before the session ends
                tablet.content.stop()
            conn = tablet.stop_nowait()
            if conn is not None:
                closing.append(conn)
        if not closing:
            return
        _, late = await asyncio.wait(
            [conn.closed_future() for conn in closing], timeout=CLOSE_TIMEOUT_S
        )
        if late:
            log.warning(
                "%d connections did not close in %ss; aborting them", len(late), CLOSE_TIMEOUT_S
            )
            for conn in closing:
                conn.abort()


async def _guarded(work: Coroutine[Any, Any, None], name: str) -> None:
    """A tablet's task fails alone (logged), never the fleet's task group."""
    try:
        await work
    except Exception:
        log.exception("%s failed", name)
