"""The admins' audit log view: filters, paging, CSV and API, never across tenants."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from tests.web.conftest import Conn, TenantFactory, api_token, sign_in


def add(
    conn: Conn,
    tenant_id: str,
    actor: str,
    action: str,
    target: str | None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    row = conn.execute(
        "INSERT INTO audit_log (tenant_id, actor, action, target, details, at)"
        " VALUES (%s, %s, %s, %s, %s, coalesce(%s, now())) RETURNING audit_id",
        (tenant_id, actor, action, target, Jsonb(details or {}), at),
    ).fetchone()
    assert row is not None
    return int(str(row[0]))


def shown(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'id="audit-(\d+)"', text)]


def test_the_log_is_the_tenants_own_newest_first(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, theirs = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    tag = uuid.uuid4().hex[:8]
    first = add(
        conn,
        mine.tenant_id,
        "ops@example.com",
        "playlist.assign",
        f"fleet:{tag}",
        {"reason": "night <b>", "n": 1},
    )
    second = add(conn, mine.tenant_id, "ops@example.com", "playlist.revoke", f"fleet:{tag}")
    hidden = add(conn, theirs.tenant_id, "spy@example.com", "playlist.assign", f"fleet:{tag}")
    sign_in(panel, mine.admin)
    page = panel.get("/audit", params={"target": tag})
    assert page.status_code == 200
    assert shown(page.text) == [second, first]
    assert '{"n":1,"reason":"night <b>"}' in html.unescape(page.text)  # compact JSON
    assert "night <b>" not in page.text  # escaped
    everything = panel.get("/audit").text
    assert hidden not in shown(everything)
    assert "spy@example.com" not in everything
    # The fixtures' own actions of this tenant are there (tenant, fleet, users).
    assert "tenant.add" in everything
    assert "user.add" in everything


def test_filters(panel: TestClient, tenant_factory: TenantFactory, conn: Conn) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    t = tenant.tenant_id

    def day(d: int) -> datetime:
        return datetime(2030, 5, d, 12, tzinfo=UTC)

    a = add(conn, t, "alice@example.com", "playlist.assign", "fleet:north", at=day(1))
    b = add(conn, t, "bob@example.com", "playlist.revoke", "fleet:south", at=day(2))
    c = add(conn, t, "alice@example.com", "playlistXassign", "car:north-7", at=day(3))
    d = add(conn, t, "bob@example.com", "incident.ack", "tablet:north-7-t0", at=day(4))
    ours = {a, b, c, d}
    sign_in(panel, tenant.admin)

    def ids(**params: str) -> list[int]:
        response = panel.get("/audit", params=params)
        assert response.status_code == 200
        return [i for i in shown(response.text) if i in ours]

    assert ids() == [d, c, b, a]
    assert ids(actor="alice") == [c, a]
    assert ids(actor="ALICE@EXAMPLE.COM") == [c, a]
    assert ids(action="playlist.") == [b, a]  # a prefix; "." is not a wildcard
    assert ids(action="playlist_") == []  # nor is "_"
    assert ids(action="incident") == [d]
    assert ids(target="north") == [d, c, a]
    assert ids(target="%") == []
    assert ids(since="2030-05-02", until="2030-05-03") == [c, b]  # both days included
    assert ids(since="2030-05-04") == [d]
    assert ids(until="2030-05-01") == [a]
    assert ids(actor="bob", target="north", since="2030-05-01") == [d]
    inverted = panel.get("/audit", params={"since": "2030-05-04", "until": "2030-05-01"})
    assert "nothing can match" in inverted.text
    assert panel.get("/audit", params={"since": "not-a-date"}).status_code == 422


def test_paging_by_cursor(panel: TestClient, tenant_factory: TenantFactory, conn: Conn) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    made = [
        add(conn, tenant.tenant_id, "bulk@example.com", "bulk.test", f"n:{n}") for n in range(130)
    ]
    sign_in(panel, tenant.admin)
    first = panel.get("/audit", params={"action": "bulk."})
    assert shown(first.text) == made[::-1][:100]
    older = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert older
    link = older.group(1).replace("&amp;", "&")
    assert "action=bulk." in link
    second = panel.get(link)
    assert shown(second.text) == made[::-1][100:]
    assert 'rel="next"' not in second.text
    assert "← newest" in second.text


def test_csv_export(panel: TestClient, tenant_factory: TenantFactory, conn: Conn) -> None:
    mine, theirs = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    rows = [
        add(conn, mine.tenant_id, "csv@example.com", "csv.test", f"n:{n}", {"n": n})
        for n in range(1205)
    ]  # more than one page of the export
    formula = add(conn, mine.tenant_id, "csv@example.com", "csv.test", "=cmd|'/c calc'!A1")
    add(conn, theirs.tenant_id, "csv@example.com", "csv.test", "n:theirs")
    sign_in(panel, mine.admin)
    response = panel.get("/audit.csv", params={"action": "csv."})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"audit-{mine.tenant_id}.csv" in response.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(response.text)))
    assert table[0] == ["audit_id", "at", "actor", "action", "target", "details"]
    assert [int(r[0]) for r in table[1:]] == [formula, *rows[::-1]]
    assert table[1][4] == "'=cmd|'/c calc'!A1"
    assert json.loads(table[2][5]) == {"n": 1204}
    assert "n:theirs" not in response.text
    assert (
        panel.get("/audit.csv", params={"action": "csv.", "target": "n:12"}).text.count("\n")
        == 1 + 1 + 10 + 5
    )  # header, n:12, n:120…n:129, n:1200…n:1204


def test_api(panel: TestClient, tenant_factory: TenantFactory, conn: Conn) -> None:
    mine, theirs = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    made = [
        add(conn, mine.tenant_id, "api@example.com", "api.test", f"n:{n}", {"n": n})
        for n in range(5)
    ]
    add(conn, theirs.tenant_id, "api@example.com", "api.test", "n:theirs")
    headers = api_token(panel, mine.admin)
    first = panel.get("/api/v1/audit", params={"action": "api.", "limit": 3}, headers=headers)
    assert first.status_code == 200
    body = first.json()
    assert [e["audit_id"] for e in body["entries"]] == made[::-1][:3]
    assert body["entries"][0]["details"] == {"n": 4}
    assert body["older"] == made[2]
    rest = panel.get(
        "/api/v1/audit", params={"action": "api.", "before": body["older"]}, headers=headers
    ).json()
    assert [e["audit_id"] for e in rest["entries"]] == made[::-1][3:]
    assert rest["older"] is None
    everything = panel.get("/api/v1/audit", params={"limit": 500}, headers=headers).json()
    assert all(e["target"] != "n:theirs" for e in everything["entries"])
    assert panel.get("/api/v1/audit").status_code == 401
    assert "/api/v1/audit" in panel.get("/openapi.json").json()["paths"]


def test_fleet_owners_are_refused(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    sign_in(panel, tenant.owner)
    assert panel.get("/audit").status_code == 403
    assert panel.get("/audit.csv").status_code == 403
    headers = api_token(panel, tenant.owner)
    assert panel.get("/api/v1/audit", headers=headers).status_code == 403
