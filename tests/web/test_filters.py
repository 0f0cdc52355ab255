"""Issue 11, defect 1: the filter forms take their own defaults, and no page answers JSON.

Empty query values mean "no filter"; a value a page cannot use re-renders the page with a
message saying which (the API keeps its strict JSON answers).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import Conn, TenantFactory, api_token, sign_in

HTML = {"Accept": "text/html,application/xhtml+xml"}


def tiles_on(page: str) -> list[str]:
    return re.findall(r'id="tile-([^"]+)"', page)


def set_state(conn: Conn, tablet_id: str, state: str) -> None:
    conn.execute(
        "INSERT INTO tablet_state (tablet_id, state, state_since, updated_at)"
        " VALUES (%s, %s, now(), now()) ON CONFLICT (tablet_id) DO UPDATE"
        " SET state = excluded.state, state_since = now(), updated_at = now()",
        (tablet_id, state),
    )


@pytest.mark.parametrize(
    "path",
    [
        "/?fleet=&state=&q=",
        "/?fleet=&state=offline&q=",
        "/alerts?fleet=&status=",
        "/audit?actor=&action=&target=&since=&until=",
    ],
)
def test_the_forms_defaults_are_no_filter(
    panel: TestClient, tenant_factory: TenantFactory, path: str
) -> None:
    """Each address is what its form sends with "all fleets", "any state", empty dates."""
    tenant = tenant_factory()
    sign_in(panel, tenant.admin)
    page = panel.get(path, headers=HTML)
    assert page.status_code == 200, page.text[:300]
    assert page.headers["content-type"].startswith("text/html")
    assert 'class="error"' not in page.text


def test_all_fleets_and_offline_shows_every_fleets_offline_tablets(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=2, tablets=2)
    first, second = (tenant.tablets[f][0] for f in tenant.fleets)
    set_state(conn, first, "offline")
    set_state(conn, second, "offline")
    set_state(conn, tenant.tablets[tenant.fleets[0]][1], "online")
    sign_in(panel, tenant.admin)
    page = panel.get("/?fleet=&state=offline&q=", headers=HTML)
    assert sorted(tiles_on(page.text)) == sorted([first, second])
    # The header counts the fleets, not the page: 1 online, 2 offline, 1 never seen.
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', page.text))
    assert counts == {"online": "1", "offline": "2", "unknown": "1"}


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/?state=asleep", "'asleep' is not a state"),
        ("/?fleet=nope", "There is no fleet 'nope'"),
        ("/alerts?status=whatever", "'whatever' is not a status"),
        ("/audit?since=yesterday", "use a date like 2024-05-31"),
        ("/heatmap?page=0", "page"),
    ],
)
def test_a_bad_value_gets_the_page_with_a_message_not_json(
    panel: TestClient, tenant_factory: TenantFactory, path: str, words: str
) -> None:
    tenant = tenant_factory()
    sign_in(panel, tenant.admin)
    page = panel.get(path, headers=HTML)
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert words in page.text.replace("&#39;", "'")
    assert "Sign out" in page.text  # with the menu, never a dead end


def test_the_audit_days_keep_the_good_values_and_drop_the_bad(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    conn.execute(
        "INSERT INTO audit_log (tenant_id, actor, action, target, at)"
        " VALUES (%s, 'a@example.com', 'test.kept', 'x', %s)",
        (tenant.tenant_id, datetime(2030, 5, 2, 12, tzinfo=UTC)),
    )
    sign_in(panel, tenant.admin)
    page = panel.get("/audit?action=test.&since=2030-05-01&until=someday", headers=HTML)
    assert page.status_code == 422
    assert "test.kept" in page.text
    assert "“to” 'someday'" in page.text.replace("&#39;", "'")


def test_the_api_keeps_its_json_answers(panel: TestClient, tenant_factory: TenantFactory) -> None:
    tenant = tenant_factory()
    headers = {**api_token(panel, tenant.admin), **HTML}
    answer = panel.get("/api/v1/tablets?state=asleep", headers=headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/json"
    assert panel.get("/api/v1/audit?since=&until=", headers=headers).status_code == 200
