"""Staged app rollouts end to end: a real hub and broker, tablets with persistent sessions.

Each wave's tablets get one ``update_app`` command; a wave that soaked advances while it stays
healthy; crash loops (scripted heartbeats with new boot ids) in a wave halt the rollout at
that wave, with an alert, and no further tablet gets the update. The soak is shortened by
moving the wave's start back in the store (no test waits for a real soak).
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from store import db, rollouts
from store.rollouts import RolloutSpec
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import eventually
from tests.hub.test_commands_e2e import ADMIN, CommandTablet

Conn = psycopg.Connection[tuple[Any, ...]]
SHA = "ab" * 32


def waves_of(conn: Conn, rollout_id: int) -> dict[str, int]:
    rows = conn.execute(
        "SELECT tablet_id, wave FROM rollout_tablets WHERE rollout_id = %s", (rollout_id,)
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def state_of(conn: Conn, rollout_id: int) -> tuple[str, int]:
    row = conn.execute(
        "SELECT state, wave FROM rollouts WHERE rollout_id = %s", (rollout_id,)
    ).fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


def soak_over(conn: Conn, rollout_id: int) -> None:
    conn.execute(
        "UPDATE rollouts SET wave_started_at = wave_started_at - soak_s * interval '1 second'"
        " - interval '1 second' WHERE rollout_id = %s",
        (rollout_id,),
    )


async def test_a_rollout_advances_while_healthy_and_halts_at_a_crashing_wave(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, database_url: str
) -> None:
    policy = {"clear_s": 0, "crash_loop_boots": 3}
    fleet = await fleet_factory(tablets=10, heartbeat_s=30, offline_after_s=90, health=policy)
    tablets = {t.tablet_id: t for t in (CommandTablet(fleet, n) for n in range(10))}
    for t in tablets.values():
        t.connect(first=True)
    spec = RolloutSpec(fleet.fleet_id, "3.2.0", "https://apps.example/a.apk", SHA,
                       [10, 50, 100], 600, 5.0, 10.0)  # fmt: skip
    try:
        async with db.connect(database_url) as aconn:
            rollout = await rollouts.create(aconn, ADMIN, spec)
        first = waves_of(conn, rollout)
        assert list(first.values()) == [0]  # 10 % of 10 tablets
        (one,) = first
        await eventually(lambda: len(tablets[one].ran) == 1)
        got = tablets[one].got.get(timeout=1)
        assert got["name"] == "update_app"
        assert got["args"] == {"version": "3.2.0", "url": spec.package_url, "sha256": SHA}

        soak_over(conn, rollout)
        await eventually(lambda: state_of(conn, rollout) == ("running", 1))
        second = [t for t, w in waves_of(conn, rollout).items() if w == 1]
        assert len(second) == 4  # up to 50 % of the fleet
        await eventually(lambda: all(len(tablets[t].ran) == 1 for t in second))

        for crashing in second[:2]:  # three new boots within the hour: a crash loop each
            for boot in range(3):
                tablets[crashing].heartbeat(f"boot-{boot}", 0)
        await eventually(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM incidents WHERE fleet_id = %s AND kind = 'crash_loop'",
                    (fleet.fleet_id,),
                ).fetchone()
                == (2,)
            )
        )
        soak_over(conn, rollout)
        await eventually(lambda: state_of(conn, rollout) == ("halted", 1))
        reason = conn.execute(
            "SELECT reason FROM rollouts WHERE rollout_id = %s", (rollout,)
        ).fetchone()
        assert reason is not None
        assert "wave 2 (50 %): crash loops: 2 of 4 tablets of the wave (50 %)" in str(reason[0])
        alerts = conn.execute(
            "SELECT payload->>'detail' FROM notifications WHERE kind = 'rollout_halted'"
            " AND fleet_id = %s",
            (fleet.fleet_id,),
        ).fetchall()
        assert alerts == [(reason[0],)]

        soak_over(conn, rollout)  # a halted rollout is not judged again: it stays at its wave
        await asyncio.sleep(3)
        assert state_of(conn, rollout) == ("halted", 1)
        assert len(waves_of(conn, rollout)) == 5
        rest = [t for t in tablets if t not in waves_of(conn, rollout)]
        assert all(tablets[t].ran == [] for t in rest)
    finally:
        for t in tablets.values():
            t.close()
