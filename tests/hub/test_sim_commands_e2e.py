"""The simulated tablets run remote commands as the contract says (devtools/simulator/
commands.py): a real hub, broker and panel process; screenshots are uploaded through their
signed links and kept, a reboot is a new boot, a level is kept.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from devtools.simulator import SimFleet
from store import db
from store.commands import issue
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import eventually
from tests.hub.test_commands_e2e import ADMIN
from tests.hub.test_media_delivery_e2e import Panel, credentials, media_hub, panel_process

Conn = psycopg.Connection[tuple[Any, ...]]
__all__ = ["media_hub", "panel_process"]  # the fixtures this module uses


def states(conn: Conn, command_id: uuid.UUID) -> dict[str, str]:
    rows = conn.execute(
        "SELECT tablet_id, state FROM command_targets WHERE command_id = %s", (command_id,)
    ).fetchall()
    return {str(t): str(s) for t, s in rows}


async def send(database_url: str, name: str, fleet_id: str, **args: Any) -> uuid.UUID:
    async with db.connect(database_url) as conn:
        return (await issue(conn, ADMIN, name, args, fleet=fleet_id)).command_id


async def test_simulated_tablets_take_screenshots_reboot_and_set_levels(
    media_hub: RunningHub,
    panel_process: Panel,
    fleet_factory: TestFleetFactory,
    database_url: str,
    conn: Conn,
) -> None:
    fleet = await fleet_factory(tablets=2)
    sim = SimFleet(credentials(fleet), host=fleet.host, port=fleet.port)
    async with sim.running():
        shot = await send(database_url, "screenshot", fleet.fleet_id)
        done = dict.fromkeys(fleet.tablet_ids, "succeeded")
        await eventually(lambda: states(conn, shot) == done, timeout=20)
        kept = conn.execute(
            "SELECT tablet_id, content_type, width FROM screenshots WHERE command_id = %s"
            " ORDER BY tablet_id",
            (shot,),
        ).fetchall()
        assert kept == [(t, "image/png", 640) for t in sorted(fleet.tablet_ids)]

        first = sim.tablet(fleet.tablet_ids[0])
        boot = first.boot_id
        reboot = await send(database_url, "reboot", fleet.fleet_id)
        await eventually(lambda: states(conn, reboot) == done)
        assert first.boot_id != boot

        volume = await send(database_url, "set_volume", fleet.fleet_id, level=35)
        await eventually(lambda: states(conn, volume) == done)
        assert first.commands.levels == {"set_volume": 35}
