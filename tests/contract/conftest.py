"""The contract suite: tablets of :mod:`tests.contract.tablet` against a running hub.

Provisioning (fleets, tablets and their broker accounts) uses the product's store and the
test broker; everything a tablet does goes over paho as the contract describes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import RunningHub, TestFleetFactory
from tests.contract.tablet import ContractTablet
from tests.helpers import TestFleet, blocking, eventually

Conn = psycopg.Connection[tuple[Any, ...]]


class Tablets:
    """Fleets of the test's own and contract tablets on them, closed after the test."""

    def __init__(self, factory: TestFleetFactory, hub: RunningHub | None) -> None:
        self._factory = factory
        self._hub = hub
        self._open: list[ContractTablet] = []

    async def fleet(self, tablets: int = 1, **kwargs: Any) -> TestFleet:
        """A fleet, registered with the running hub (when the test runs one) before it
        returns: a tablet's first message then finds its actor."""
        kwargs.setdefault("heartbeat_s", 30)
        kwargs.setdefault("offline_after_s", 90)
        fleet = await self._factory(tablets=tablets, **kwargs)
        hub = self._hub
        if hub is not None:
            await eventually(lambda: hub.hub is not None and hub.hub.owned >= set(fleet.tablet_ids))
        return fleet

    def of(self, fleet: TestFleet, n: int = 0, **kwargs: Any) -> ContractTablet:
        tablet_id = fleet.tablet_ids[n]
        tablet = ContractTablet(
            tablet_id, fleet.passwords[tablet_id], fleet.host, fleet.port, **kwargs
        )
        self._open.append(tablet)
        return tablet

    def close(self) -> None:
        for tablet in self._open:
            tablet.client.loop_stop()
            tablet.client.disconnect()


@pytest.fixture
def tablets(fleet_factory: TestFleetFactory, request: pytest.FixtureRequest) -> Iterator[Tablets]:
    hub = request.getfixturevalue("running_hub") if "running_hub" in request.fixturenames else None
    made = Tablets(fleet_factory, hub)
    yield made
    made.close()


def rows(conn: Conn, sql: str, *params: object) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params).fetchall()


def one(conn: Conn, sql: str, *params: object) -> Any:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


Probe = Callable[[], Any]
__all__ = ["Conn", "Tablets", "blocking", "one", "rows"]


# The panel's fixtures, for the HTTP fallback (tests/contract/test_http.py).
from tests.web.conftest import panel, panel_settings, tenant_factory  # noqa: E402, F401
