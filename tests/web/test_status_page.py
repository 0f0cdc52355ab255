"""The first panel: health, the status page and its JSON twin, against the real store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from tests.conftest import TestFleetFactory
from web.app import create_app

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(), database_url)) as test_client:
        yield test_client


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_status_page_and_api_show_the_fleet(
    client: TestClient, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = fleet_factory(tablets=2)
    conn.execute("UPDATE tablet_state SET state = 'online', last_heartbeat_at = now()"
                 " WHERE tablet_id = %s", (fleet.tablet_ids[0],))  # fmt: skip
    page = client.get("/", params={"fleet": fleet.fleet_id})
    assert page.status_code == 200
    assert "1 online" in page.text
    assert "1 never seen" in page.text
    assert all(t in page.text for t in fleet.tablet_ids)
    rows = client.get("/api/v1/status", params={"fleet": fleet.fleet_id}).json()
    assert [(r["tablet_id"], r["state"]) for r in rows] == [
        (fleet.tablet_ids[0], "online"), (fleet.tablet_ids[1], "unknown")]  # fmt: skip


def test_bad_filter_is_a_clear_422(client: TestClient) -> None:
    response = client.get("/api/v1/status", params={"fleet": "DROP TABLE"})
    assert response.status_code == 422
    assert "fleet" in response.text
