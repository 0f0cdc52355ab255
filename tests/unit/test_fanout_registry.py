"""A fleet-wide push (``DesiredMany``) in a real thespian system: the registry resolves it in
one step on the tablets' sessions in place, and each tablet ends where one
``DesiredPlaylist`` per tablet actor would have left it (issue #16)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from actors.effects import DeliveryRow, Effect, HandlerFailed, HeartbeatRow, Publish
from actors.messages import (
    DesiredMany,
    DesiredPlaylist,
    HeartbeatIn,
    Register,
    TabletConfig,
    TabletSnapshot,
)
from actors.rules.hours import OperatingHours
from actors.rules.tablet_session import TabletSession
from actors.system import pump as pump_module
from actors.system.pump import MAX_BATCH, ActorPump
from hub.runtime import DESIRED_PART, Desired, desired_many

NOW = datetime.now(UTC)
IDS = ("t-1", "t-2", "t-3", "t-4")


def snapshot(tablet_id: str) -> TabletSnapshot:
    cfg = TabletConfig(tablet_id, "f-1", None, 30, 90, 300, 6, OperatingHours())
    return TabletSnapshot(
        cfg,
        state="online",
        state_since=NOW - timedelta(minutes=5),
        last_heartbeat_at=NOW,
        uptime_until=NOW,
    )


def heartbeat(tablet_id: str, seq: int) -> HeartbeatIn:
    at = NOW + timedelta(seconds=seq)
    return HeartbeatIn(
        tablet_id, at, None, seq, "boot", None, None, None, 80, None, None, "1.0", None, None, None
    )


def manifest(etag: str, tablet_id: str = "", seconds: int = 1) -> DesiredPlaylist:
    body = json.dumps({"etag": etag})
    return DesiredPlaylist(tablet_id, etag, body, NOW + timedelta(seconds=seconds))


async def wait_for(probe: Callable[[], bool]) -> None:
    for _ in range(250):
        if probe():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the actors did not get there")


def publishes(effects: list[Effect]) -> list[tuple[str, str]]:
    """(tablet id, etag) of each playlist publish, in order."""
    out = []
    for e in effects:
        if isinstance(e, Publish) and e.topic.endswith("/playlist"):
            out.append((e.topic.split("/")[1], json.loads(e.payload)["etag"]))
    return out


async def run_pump(
    steps: Sequence[Sequence[object]], expect: list[Callable[[list[Effect]], bool]]
) -> list[list[Effect]]:
    """Each step's inputs, waiting after each until its probe holds; the effects per step."""
    effects: list[Effect] = []
    pump = ActorPump(asyncio.get_running_loop(), effects.extend, tick_s=0.05)
    pump.start()
    seen: list[list[Effect]] = []
    try:
        for tablet_id in IDS:
            pump.put(Register(snapshot(tablet_id)))
        for inputs, probe in zip(steps, expect, strict=True):
            before = len(effects)
            for item in inputs:
                pump.put(item)
            await wait_for(lambda: probe(effects[before:]))  # noqa: B023  # awaited here
            await asyncio.sleep(0.1)  # and nothing more comes
            seen.append(effects[before:])
    finally:
        pump.stop()
    return seen


async def test_a_push_to_many_publishes_each_tablet_once_as_one_message_per_tablet_did() -> None:
    resident = [heartbeat(t, 1) for t in IDS[:2]]  # t-3 and t-4 have no actor yet

    def has_rows(n: int) -> Callable[[list[Effect]], bool]:
        return lambda es: len([e for e in es if isinstance(e, DeliveryRow)]) >= n

    def heartbeats(es: list[Effect]) -> bool:
        return len([e for e in es if isinstance(e, HeartbeatRow)]) >= len(IDS)

    one_each = await run_pump(
        [resident, [manifest("e1", t) for t in IDS], [manifest("e1", t, 2) for t in IDS]],
        [lambda es: len(es) >= 2, has_rows(4), lambda es: True],
    )
    many = await run_pump(
        [
            resident,
            [DesiredMany(IDS, manifest("e1"))],
            [DesiredMany(IDS, manifest("e1", seconds=2))],
            [heartbeat(t, 2) for t in IDS],
        ],
        [lambda es: len(es) >= 2, has_rows(4), lambda es: True, heartbeats],
    )
    assert sorted(publishes(many[1])) == sorted(publishes(one_each[1]))
    assert sorted(publishes(many[1])) == [(t, "e1") for t in IDS]
    assert publishes(many[2]) == publishes(one_each[2]) == []  # already published: not again
    # The actors created for t-3 and t-4 hold the sessions the push updated: their
    # heartbeats reach the same state (each tablet one heartbeat row, nothing failed).
    assert sorted(e.tablet_id for e in many[3] if isinstance(e, HeartbeatRow)) == list(IDS)
    assert not [e for step in many for e in step if isinstance(e, HandlerFailed)]


async def test_a_tablet_raising_in_a_push_is_rolled_back_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    on_desired = TabletSession.on_desired
    raised: list[str] = []

    def failing(self: TabletSession, msg: DesiredPlaylist) -> object:
        out = on_desired(self, msg)  # changes the session, then raises (once)
        if self.cfg.tablet_id == "t-2" and not raised:
            raised.append(msg.etag)
            raise ValueError("boom")
        return out

    monkeypatch.setattr(TabletSession, "on_desired", failing)
    steps = await run_pump(
        [
            [heartbeat(t, 1) for t in IDS],
            [DesiredMany(IDS, manifest("e1"))],
            # To t-2's actor: its session was rolled back in place, so e1 is not yet published.
            [manifest("e1", "t-2", 2)],
        ],
        [
            lambda es: len(es) >= 4,
            lambda es: any(isinstance(e, HandlerFailed) for e in es),
            lambda es: bool(publishes(es)),
        ],
    )
    failed = [e for e in steps[1] if isinstance(e, HandlerFailed)]
    assert [(f.actor, f.key, f.message) for f in failed] == [("tablet", "t-2", "DesiredPlaylist")]
    assert sorted(publishes(steps[1])) == [("t-1", "e1"), ("t-3", "e1"), ("t-4", "e1")]
    assert publishes(steps[2]) == [("t-2", "e1")]
    rows = [(e.tablet_id, e.etag) for e in steps[2] if isinstance(e, DeliveryRow)]
    assert rows == [("t-2", "e1")]


def test_a_push_is_split_into_parts_of_a_thousand_tablets_per_manifest() -> None:
    first, second = Desired("e1", "{}"), Desired("e2", "{}")
    desired = {f"a-{n:04d}": first for n in range(2500)} | {"b-1": second, "b-2": second}
    parts = desired_many(desired, desired, NOW)
    assert [len(p.tablet_ids) for p in parts] == [1000, 1000, 500, 2]
    assert [t for p in parts for t in p.tablet_ids] == list(desired)  # in order, each once
    assert [p.template.etag for p in parts] == ["e1", "e1", "e1", "e2"]
    assert DESIRED_PART <= MAX_BATCH


async def test_a_rounds_publishes_reach_the_loop_after_at_most_max_batch_tablets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A push's parts are weighed by their tablets: with rounds of two tablets, a push to
    four in two parts reaches the loop in two rounds, its first publishes with the first."""
    monkeypatch.setattr(pump_module, "MAX_BATCH", 2)
    rounds: list[list[Effect]] = []
    pump = ActorPump(asyncio.get_running_loop(), rounds.append, tick_s=0.05)
    pump.start()
    try:
        for tablet_id in IDS:
            pump.put(Register(snapshot(tablet_id)))
        await asyncio.sleep(0.2)
        rounds.clear()
        pump.put(DesiredMany(IDS[:2], manifest("e1")))
        pump.put(DesiredMany(IDS[2:], manifest("e1")))
        await wait_for(lambda: len([p for r in rounds for p in publishes(r)]) == 4)
    finally:
        pump.stop()
    with_publishes = [sorted(publishes(r)) for r in rounds if publishes(r)]
    assert with_publishes == [[("t-1", "e1"), ("t-2", "e1")], [("t-3", "e1"), ("t-4", "e1")]]


def test_a_parts_message_for_a_tablet_is_its_template_with_the_tablets_id() -> None:
    """``for_tablet`` builds the message field by field: every field the template has."""
    template = DesiredPlaylist(
        "",
        "e9",
        '{"etag":"e9"}',
        NOW,
        force=True,
        media=(("ab" * 32, 10),),
        playlist_id="pl-1",
        resolved_at=NOW - timedelta(seconds=3),
    )
    many = DesiredMany(("t-9",), template)
    assert many.for_tablet("t-9") == replace(template, tablet_id="t-9")
