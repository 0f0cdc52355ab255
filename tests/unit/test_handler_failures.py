"""A raising handler in a real thespian system costs only its message (contained.py).

Thespian alone would call the handler three times and send the message back as a
``PoisonMessage``, uncounted; sent to the pump, that ``PoisonMessage`` would be the reply
to its next ``ask``. Here each failure is one ``HandlerFailed`` effect and the rest flows.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from thespian.actors import ActorSystem

from actors.effects import Effect, HandlerFailed, HeartbeatRow
from actors.messages import (
    Arm,
    ArmBatch,
    HeartbeatIn,
    Register,
    Setup,
    TabletConfig,
    TabletSnapshot,
    Tick,
)
from actors.rules.hours import OperatingHours
from actors.rules.tablet_session import TabletSession
from actors.system.outbox import Outbox
from actors.system.pump import ActorPump
from actors.system.watchdog import WatchdogActor

NOW = datetime.now(UTC)


def snapshot(tablet_id: str) -> TabletSnapshot:
    cfg = TabletConfig(tablet_id, "f-1", None, 30, 90, 300, 6, OperatingHours())
    return TabletSnapshot(
        cfg,
        state="online",
        state_since=NOW - timedelta(minutes=5),
        last_heartbeat_at=NOW,
        uptime_until=NOW,
    )


def heartbeat(tablet_id: str, at: datetime, seq: int) -> HeartbeatIn:
    return HeartbeatIn(
        tablet_id, at, None, seq, "boot", None, None, None, 80, None, None, "1.0", None, None, None
    )


async def test_a_raising_tablet_handler_is_counted_once_and_the_others_flow(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[HeartbeatIn] = []
    on_heartbeat = TabletSession.on_heartbeat

    def counting(self: TabletSession, hb: HeartbeatIn) -> object:
        calls.append(hb)
        return on_heartbeat(self, hb)

    monkeypatch.setattr(TabletSession, "on_heartbeat", counting)
    effects: list[Effect] = []
    pump = ActorPump(asyncio.get_running_loop(), effects.extend, tick_s=0.05)
    pump.start()
    try:
        for tablet_id in ("t-bad", "t-good"):
            pump.put(Register(snapshot(tablet_id)))
        # Naive: the session compares it with its aware uptime mark halfway (TypeError).
        poison = heartbeat("t-bad", datetime(2030, 1, 1), 1)
        pump.put(poison)
        pump.put(heartbeat("t-good", NOW + timedelta(seconds=1), 1))
        pump.put(heartbeat("t-bad", NOW + timedelta(seconds=1), 2))
        for _ in range(200):
            rows = {e.tablet_id for e in effects if isinstance(e, HeartbeatRow)}
            if rows == {"t-bad", "t-good"}:
                break
            await asyncio.sleep(0.02)
        assert {e.tablet_id for e in effects if isinstance(e, HeartbeatRow)} == {"t-bad", "t-good"}
        failed = [e for e in effects if isinstance(e, HandlerFailed)]
        assert [(f.actor, f.key, f.message) for f in failed] == [("tablet", "t-bad", "HeartbeatIn")]
        assert failed[0].error.startswith("TypeError: ")
        assert calls.count(poison) == 1  # not retried
        assert await pump.stats() == {"known": 2, "resident": 2}  # the replies are in step
    finally:
        pump.stop()
    assert not [r for r in caplog.records if r.name == "Thespian" and r.levelno >= logging.WARNING]


def test_a_raising_watchdog_handler_is_put_in_the_outbox_not_poisoned() -> None:
    """Before, the outside sender got a ``PoisonMessage`` as the reply to its next ``ask``."""
    system = ActorSystem("simpleSystemBase", logDefs=False)
    try:
        outbox = Outbox()
        watchdog = system.createActor(WatchdogActor)
        system.tell(watchdog, Setup(outbox, watchdog, NOW))
        system.tell(watchdog, Arm("t-1", "offline", NOW))
        system.tell(watchdog, Tick(datetime(2030, 1, 1)))  # naive: TypeError
        system.tell(watchdog, ArmBatch(None))  # type: ignore[arg-type]  # TypeError
        failed = outbox.take_effects()
        assert [(f.actor, f.message) for f in failed] == [  # type: ignore[union-attr]
            ("watchdog", "Tick"),
            ("watchdog", "ArmBatch"),
        ]
        assert outbox.take_effects() == []
    finally:
        system.shutdown()
