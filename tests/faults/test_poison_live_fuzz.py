"""Live fuzz (issue #18, item 1): a rooted tablet throws a few thousand hostile payloads at
a real hub while 20 well-behaved tablets heartbeat beside it.

Before the fix the hub died on the first ``seq`` 2^63 (and on every restart while it was
retained), a U+0000 dropped every tablet's rows of the same batch, and every rejected
plays batch wrote a log line. Now: the hub stays up, no control heartbeat is lost, no
control tablet goes falsely offline, every reject is counted and the log stays short.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psutil
import psycopg
import pytest

from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import PahoTablet, eventually

pytestmark = [pytest.mark.faults, pytest.mark.slow]
Conn = psycopg.Connection[tuple[Any, ...]]

CONTROLS = 20
ROUNDS = 12  # control heartbeats, one a second each
FUZZ_MESSAGES = 3000
NUL = "\x00"


def heartbeat(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "v": 1,
        "ts": datetime.now(UTC).isoformat(),
        "seq": 1,
        "boot_id": "boot",
        "playlist_etag": "etag",
        "battery": 50,
        "now_playing": {"ad_id": "ad", "campaign_id": "c"},
        "disk_free_mb": 10,
        "app_version": "1",
        "lat": 1.0,
        "lon": 2.0,
    }
    body.update(fields)
    return body


def deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"d": value}
    return value


def play_event(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "ad_id": "ad",
        "campaign_id": "c",
        "playlist_id": "p",
        "playlist_etag": "e",
        "started_at": datetime.now(UTC).isoformat(),
        "duration_ms": 1000,
        "result": "completed",
    }
    body.update(fields)
    return body


def raw(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def hostile() -> Iterator[tuple[str, bytes]]:
    """``(topic kind, payload)``: every known poison, then random mutations of them."""
    strings = ["boot_id", "app_version", "playlist_etag"]
    heartbeats = [
        heartbeat(seq=2**63),
        heartbeat(seq=2**64),
        heartbeat(seq=-1),
        heartbeat(seq=10**40),
        heartbeat(disk_free_mb=2**31),
        heartbeat(battery=2**15),
        heartbeat(lat=math.nan),
        heartbeat(lon=math.inf),
        heartbeat(x=math.nan),
        heartbeat(x=math.inf),
        heartbeat(x=-math.inf),
        heartbeat(x=1e400),
        heartbeat(**{"x" + NUL: 1}),
        heartbeat(x=NUL),
        heartbeat(x=[1, {"y": NUL}]),
        heartbeat(x=deep(20)),
        heartbeat(x=deep(250)),
        heartbeat(x="y" * 20_000),
        heartbeat(x="\ud800"),
        heartbeat(now_playing={"ad_id": NUL, "campaign_id": "c"}),
        heartbeat(now_playing={"ad_id": "a", "campaign_id": "c" + NUL}),
        heartbeat(ts="9999-12-31T23:59:59-05:00"),
        heartbeat(ts="0001-01-01T00:00:00+05:00"),
        heartbeat(seq="1"),
        heartbeat(boot_id=5),
        heartbeat(v=2),
        heartbeat(charging="yes"),
        *(heartbeat(**{name: f"a{NUL}b"}) for name in strings),
    ]
    statuses = [
        {"state": "online", "ts": NUL},
        {"state": "offline" + NUL},
        {"state": "online", "ts": "0001-01-01T00:00:00+05:00"},
        {"state": 1},
    ]
    ack_bodies = [
        {"etag": NUL, "status": "applied"},
        {"etag": "e", "status": "failed", "detail": NUL},
        {"etag": "e" * 300, "status": "applied"},
        {"etag": "e", "status": "applied" + NUL},
    ]
    plays = [
        {"events": [play_event(ad_id=NUL)]},
        {"events": [play_event(lat=math.nan)]},
        {"events": [play_event(duration_ms=2**63)]},
        {"events": [play_event(event_id=NUL)]},
        {"events": [play_event(playlist_etag="e" + NUL)]},
        {"events": [{}] * 600},
        {"events": [play_event(started_at="9999-12-31T23:59:59-05:00")]},
        {"events": [1, None, "x", [NUL]], "batch_id": NUL},
        {"events": "all"},
    ]
    known = (
        [("heartbeat", raw(b)) for b in heartbeats]
        + [("status", raw(b)) for b in statuses]
        + [("playlist/ack", raw(b)) for b in ack_bodies]
        + [("plays", raw(b)) for b in plays]
    )
    junk = [
        b"",
        b"null",
        b"[]",
        b"{",
        b"\xff\xfe",
        b'{"v":1,"seq":1,"boot_id":"\\u0000"}',
        b"[" * 5000 + b"]" * 5000,
        b"x" * 100_000,
    ]  # (broker limit: 168 KiB)
    kinds = ["heartbeat", "status", "playlist/ack", "plays"]
    rng = random.Random(18)  # a reproducible fuzz, not cryptography
    yield from known
    yield from ((kind, body) for kind in kinds for body in junk)
    for _ in range(FUZZ_MESSAGES - len(known) - len(junk) * len(kinds)):
        kind, body = rng.choice(known)
        data = bytearray(body)
        for _ in range(rng.randint(0, 3)):  # flip, drop or insert a few bytes
            at = rng.randrange(len(data)) if data else 0
            op = rng.randrange(3)
            if op == 0 and data:
                data[at] = rng.randrange(256)
            elif op == 1 and data:
                del data[at]
            else:
                data[at:at] = bytes([rng.choice(b'\x00"{}[],:\\u0')])
        yield rng.choice([kind, *kinds]), bytes(data)


async def test_a_fuzzing_tablet_costs_its_neighbours_nothing(
    running_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    conn: Conn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = running_hub.hub
    assert hub is not None
    task = running_hub._task
    assert task is not None
    fleet = await fleet_factory(tablets=CONTROLS + 1, heartbeat_s=1, offline_after_s=3)
    fuzzer = fleet.tablet(CONTROLS).connect(subscribe=False, online=False)
    controls = [fleet.tablet(n).connect() for n in range(CONTROLS)]
    control_ids = [t.tablet_id for t in controls]
    rss_before = psutil.Process().memory_info().rss
    sent: list[tuple[str, int]] = []
    errors: list[BaseException] = []

    fuzz_done = threading.Event()
    stopped: list[datetime] = []

    def beat() -> None:
        """A heartbeat a second from each control, until the fuzzer is done."""
        try:
            n = 0
            while n < ROUNDS or not fuzz_done.is_set():
                started = time.monotonic()
                for tablet in controls:
                    tablet.heartbeat()
                    sent.append((tablet.tablet_id, n))
                n += 1
                if n >= ROUNDS and fuzz_done.is_set():
                    break
                time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        except BaseException as exc:
            errors.append(exc)
        finally:
            stopped.append(datetime.now(UTC))  # each control's deadline is later than this

    def fuzz(tablet: PahoTablet) -> None:
        try:
            infos = []
            for n, (kind, body) in enumerate(hostile()):
                retain = kind in ("heartbeat", "status") and n % 97 == 0
                info = tablet.client.publish(tablet.topic(kind), body, qos=n % 2, retain=retain)
                infos.append(info)
                if n % 100 == 99:  # ~1,000 a second, in step with the controls
                    time.sleep(0.1)
            for info in infos:
                info.wait_for_publish(10)
        except BaseException as exc:
            errors.append(exc)
        finally:
            fuzz_done.set()

    received_before = hub.metrics.received
    threads = [
        threading.Thread(target=beat, name="test.controls"),
        threading.Thread(target=fuzz, args=(fuzzer,), name="test.fuzzer"),
    ]
    try:
        for thread in threads:
            thread.start()
        await eventually(lambda: not any(t.is_alive() for t in threads), timeout=60)
        for thread in threads:
            thread.join()
        assert not errors, errors[0]
        stopped_at = stopped[0]

        def stored() -> int:
            row = conn.execute(
                "SELECT count(*) FROM heartbeats WHERE tablet_id = ANY(%s)", (control_ids,)
            ).fetchone()
            return int(row[0]) if row else 0

        with contextlib.suppress(AssertionError):  # the figures below say how many are missing
            await eventually(lambda: stored() >= len(sent), timeout=15)
        false_offline = conn.execute(
            "SELECT count(*) FROM presence_transitions WHERE tablet_id = ANY(%s)"
            " AND to_state = 'offline' AND time <= %s",
            (control_ids, stopped_at),
        ).fetchone()
        m = hub.metrics
        reject_lines = sum("rejected" in r.getMessage() for r in caplog.records)
        figures: dict[str, Any] = {
            "hub_alive": not task.done(),
            "control_heartbeats_sent": len(sent),
            "control_heartbeats_lost": len(sent) - stored(),
            "false_offline_transitions": false_offline[0] if false_offline else None,
            "fuzz_messages_received": m.received - received_before - len(sent),
            "rejected": sum(m.rejected.values()),
            "handler_errors": getattr(m, "handler_errors", None),
            "dropped": dict(m.dropped),
            "reject_log_lines": reject_lines,
            "rss_growth_mb": round((psutil.Process().memory_info().rss - rss_before) / 2**20),
        }
        print("live fuzz figures:", figures)  # the before/after of issue #18

        assert figures["hub_alive"]
        assert figures["control_heartbeats_lost"] == 0
        assert figures["false_offline_transitions"] == 0
        assert figures["handler_errors"] == 0
        assert not m.dropped  # nothing reached the store that it refuses
        assert sum(m.rejected.values()) >= FUZZ_MESSAGES // 2
        assert reject_lines < 200  # rate-limited: about one line per reason and second
    finally:
        fuzzer.publish("heartbeat", b"", retain=True)
        fuzzer.publish("status", b"", retain=True)
        for tablet in (fuzzer, *controls):
            tablet.close()
