"""The uptime report: exact percents (operating hours too), page = CSV = API, input, scoping."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from actors.rules.hours import parse_hours
from tests.web.conftest import Conn, Tenant, TenantFactory, api_token, sign_in
from web.reports.operating import operating_seconds, operating_windows
from web.reports.uptime_report import ReportInputError, parse_period

WEEK = {"from": "2024-03-04", "to": "2024-03-10"}  # Monday to Sunday
LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def uptime(conn: Conn, tablet: str, hour: datetime, seconds: float, hours: int = 1) -> None:
    for n in range(hours):
        conn.execute(
            "INSERT INTO uptime_hourly (tablet_id, hour, online_seconds) VALUES (%s, %s, %s)",
            (tablet, hour + timedelta(hours=n), seconds),
        )


def seeded(tenant_factory: TenantFactory, conn: Conn) -> Tenant:
    """Fleet 0: Asia/Singapore, mon-fri 09:00-17:00 (01:00-09:00 UTC); fleet 1: UTC, always open.

    Expected over WEEK (see the numbers in the tests):
    f0-t0 observed 7 d = 604800 s, online 28800 (Monday's window) + 3600 (Saturday) = 32400,
          operating 5 × 8 h = 144000 s, of which online 28800;
    f0-t1 registered Tue 00:00 UTC: observed 489600 s, operating 4 × 8 h = 115200 s, online 1800
          (inside Tuesday's window);
    f1-t0 online 43200 of 604800; f1-t1 never online, 604800 observed.
    """
    tenant = tenant_factory(fleets=2, tablets=2)
    f0, f1 = tenant.fleets
    conn.execute(
        "UPDATE fleets SET timezone = 'Asia/Singapore', operating_hours = %s WHERE fleet_id = %s",
        ("mon-fri 09:00-17:00", f0),
    )
    conn.execute(
        "UPDATE tablets SET registered_at = %s WHERE fleet_id = ANY(%s)", (LONG_AGO, tenant.fleets)
    )
    (a0, a1), (b0, _) = tenant.tablets[f0], tenant.tablets[f1]
    conn.execute(
        "UPDATE tablets SET registered_at = %s WHERE tablet_id = %s", (at("2024-03-05 00:00"), a1)
    )
    uptime(conn, a0, at("2024-03-04 01:00"), 3600, hours=8)  # Monday 09:00-17:00 Singapore
    uptime(conn, a0, at("2024-03-09 02:00"), 3600)  # Saturday: not operating
    uptime(conn, a0, at("2024-03-03 15:00"), 3600)  # before the range (Mon 00:00 SGT = 16:00 UTC)
    uptime(conn, a0, at("2024-03-10 16:00"), 3600)  # after it
    uptime(conn, a1, at("2024-03-05 01:00"), 1800)
    uptime(conn, b0, at("2024-03-04 10:00"), 3600, hours=12)
    return tenant


def api(client: TestClient, headers: dict[str, str], **params: str) -> Any:
    response = client.get("/api/v1/reports/uptime", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def csv_rows(client: TestClient, **params: str) -> list[dict[str, str]]:
    response = client.get("/reports/uptime.csv", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def page_rows(client: TestClient, **params: str) -> dict[str, dict[str, str]]:
    """The numbers shown on the page, per row key ('total' for the total row)."""
    response = client.get("/reports/uptime", params=params)
    assert response.status_code == 200, response.text
    rows = {}
    for key, body in re.findall(
        r'<tr(?: class="total")? data-key="([^"]*)">(.*?)</tr>', response.text, re.S
    ):
        rows[key] = dict(re.findall(r'data-col="([a-z_]+)">([^<]*)</td>', body))
    return rows


SECONDS = ("online_seconds", "observed_seconds", "operating_online_seconds", "operating_seconds")


def test_percents_including_operating_hours_are_exact(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = seeded(tenant_factory, conn)
    f0, f1 = tenant.fleets
    headers = api_token(panel, tenant.admin)
    report = api(panel, headers, **WEEK, group="fleet")
    rows = {r["key"]: r for r in report["rows"]}
    assert list(rows) == [f0, f1]
    assert {k: Decimal(rows[f0][k]) for k in SECONDS} == {
        "online_seconds": 34200,
        "observed_seconds": 604800 + 489600,
        "operating_online_seconds": 28800 + 1800,
        "operating_seconds": 144000 + 115200,
    }
    assert rows[f0]["tablets"] == 2
    assert Decimal(rows[f0]["percent_online"]) == Decimal("3.12")  # 3.125 rounded half-even
    assert Decimal(rows[f0]["percent_online_operating"]) == Decimal("11.81")  # 30600 / 259200
    assert Decimal(rows[f1]["percent_online"]) == Decimal("3.57")  # 43200 / 1209600
    assert rows[f1]["operating_seconds"] == rows[f1]["observed_seconds"]  # no hours: always open
    total = report["total"]
    assert total["tablets"] == 4
    assert Decimal(total["online_seconds"]) == 77400
    assert Decimal(total["observed_seconds"]) == 2304000
    assert Decimal(total["percent_online"]) == Decimal("3.36")
    assert Decimal(total["percent_online_operating"]) == Decimal("5.02")  # 73800 / 1468800
    by_tablet = {r["key"]: r for r in api(panel, headers, **WEEK, group="tablet")["rows"]}
    a0, a1 = tenant.tablets[f0]
    assert Decimal(by_tablet[a0]["percent_online_operating"]) == 20  # 28800 / 144000
    assert Decimal(by_tablet[a1]["hours_observed"]) == 136
    assert Decimal(by_tablet[a1]["percent_online_operating"]) == Decimal("1.56")  # 1800 / 115200


def test_partial_hours_and_late_registration(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    """Kolkata days start at :30 UTC: the boundary hours count half; a window 09:30-10:00 too."""
    tenant = tenant_factory(fleets=1, tablets=1)
    (fleet,), tablet = tenant.fleets, tenant.all_tablets[0]
    conn.execute(
        "UPDATE fleets SET timezone = 'Asia/Kolkata', operating_hours = 'mon 09:30-10:00'"
        " WHERE fleet_id = %s",
        (fleet,),
    )
    conn.execute("UPDATE tablets SET registered_at = %s WHERE tablet_id = %s", (LONG_AGO, tablet))
    # Mon 2024-03-04 starts 2024-03-03 18:30 UTC; 09:30-10:00 IST is 04:00-04:30 UTC.
    uptime(conn, tablet, at("2024-03-03 18:00"), 3600)  # half of it on Monday
    uptime(conn, tablet, at("2024-03-04 04:00"), 1200)  # half of the hour is operating
    row = api(panel, api_token(panel, tenant.admin), **{"from": "2024-03-04", "to": "2024-03-04"})
    total = row["total"]
    assert Decimal(total["observed_seconds"]) == 86400
    assert Decimal(total["online_seconds"]) == 1800 + 1200
    assert Decimal(total["operating_seconds"]) == 1800
    assert Decimal(total["operating_online_seconds"]) == 600


def test_page_csv_and_api_agree(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = seeded(tenant_factory, conn)
    headers = api_token(panel, tenant.admin)
    sign_in(panel, tenant.admin)
    for group in ("fleet", "car", "tablet"):
        params = {**WEEK, "group": group}
        report = api(panel, headers, **params)
        rows = csv_rows(panel, **params)
        page = page_rows(panel, **params)
        *groups, total = rows
        assert total["group_by"] == "total"
        assert [r["key"] for r in groups] == [r["key"] for r in report["rows"]]
        assert all(r["group_by"] == group for r in groups)
        for name in SECONDS:  # the CSV's rows add up exactly to its total, which is the API's
            assert sum(Decimal(r[name]) for r in groups) == Decimal(total[name])
            assert Decimal(total[name]) == Decimal(report["total"][name])
        for name in ("tablets", "hours_observed", "percent_online", "percent_online_operating"):
            assert Decimal(total[name]) == Decimal(str(report["total"][name]))
            assert Decimal(page["total"][name].rstrip(" %")) == Decimal(total[name])
        for r in groups:
            assert Decimal(page[r["key"]]["percent_online"].rstrip(" %")) == Decimal(
                r["percent_online"]
            )
        assert len(page) == len(rows)
    by_car = {r["key"]: r for r in csv_rows(panel, **WEEK, group="car")}
    assert set(by_car) == {f"{t}".replace("-t", "-car") for t in tenant.all_tablets} | {""}


def test_page_shows_chart_definitions_and_links(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = seeded(tenant_factory, conn)
    sign_in(panel, tenant.owner)
    page = panel.get("/reports/uptime", params={**WEEK, "group": "tablet"})
    assert page.status_code == 200
    assert "<svg" in page.text
    assert page.text.count("<rect") == 2 * 2  # two bars for each of the owner's two tablets
    assert "Σ online seconds ÷ Σ observed seconds" in page.text
    assert "/reports/uptime.csv?from=2024-03-04&amp;to=2024-03-10&amp;group=tablet" in page.text
    default = panel.get("/reports/uptime")
    today = datetime.now(ZoneInfo("Asia/Singapore")).date()  # the fleets' local today
    assert default.status_code == 200
    assert f'value="{today - timedelta(days=6)}"' in default.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2024-03-10", "to": "2024-03-04"}, "is before"),
        ({"from": "2024-01-01", "to": "2024-06-30"}, "at most 92"),
        ({"from": "2024-13-01", "to": "2024-03-04"}, "must be a date"),
        ({"from": "2024-03-01", "to": "2999-01-01"}, "in the future"),
        ({**WEEK, "group": "driver"}, "group by must be one of"),
    ],
)
def test_bad_input_is_a_clear_422(
    panel: TestClient, tenant_factory: TenantFactory, params: dict[str, str], message: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    headers = api_token(panel, tenant.admin)
    sign_in(panel, tenant.admin)
    page = panel.get("/reports/uptime", params=params)
    assert page.status_code == 422
    assert message in page.text.replace("&#39;", "'")
    assert 'id="report"' not in page.text
    for response in (
        panel.get("/reports/uptime.csv", params=params),
        panel.get("/api/v1/reports/uptime", params=params, headers=headers),
    ):
        assert response.status_code == 422
        assert message in response.json()["detail"]


def test_fleet_owner_and_tenants_are_scoped(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = seeded(tenant_factory, conn)
    other = seeded(tenant_factory, conn)
    f0, f1 = tenant.fleets
    owner_headers = api_token(panel, tenant.owner)
    assert [r["key"] for r in api(panel, owner_headers, **WEEK)["rows"]] == [f0]
    admin_headers = api_token(panel, other.admin)
    assert [r["key"] for r in api(panel, admin_headers, **WEEK)["rows"]] == other.fleets
    for headers, fleet in ((owner_headers, f1), (admin_headers, f0), (owner_headers, "nope")):
        response = panel.get(
            "/api/v1/reports/uptime", params={**WEEK, "fleet": fleet}, headers=headers
        )
        assert response.status_code == 404
    sign_in(panel, tenant.owner)
    assert set(page_rows(panel, **WEEK)) == {f0, "total"}
    assert [r["key"] for r in csv_rows(panel, **WEEK)] == [f0, ""]
    for path in ("/reports/uptime", "/reports/uptime.csv"):
        assert panel.get(path, params={**WEEK, "fleet": f1}).status_code == 404
    sign_in(panel, other.admin)
    by_tablet = csv_rows(panel, **WEEK, group="tablet")
    assert {r["key"] for r in by_tablet} == {*other.all_tablets, ""}
    for path in ("/reports/uptime", "/reports/uptime.csv"):
        assert panel.get(path, params={**WEEK, "fleet": f0}).status_code == 404
    owned = {r["key"]: r for r in csv_rows(panel, **WEEK, fleet=other.fleets[1])}
    assert set(owned) == {other.fleets[1], ""}


def test_needs_a_session_or_token(panel: TestClient) -> None:
    assert panel.get("/reports/uptime.csv", follow_redirects=False).status_code == 303
    assert panel.get("/api/v1/reports/uptime").status_code == 401


def test_period_parsing() -> None:
    today = date(2024, 5, 31)
    assert parse_period(None, None, today).start == date(2024, 5, 25)
    assert parse_period("2024-03-01", "2024-05-31", today).days == 92
    with pytest.raises(ReportInputError, match="at most 92"):
        parse_period("2024-02-29", "2024-05-31", today)


def test_operating_windows_cross_midnight_dst_and_merge() -> None:
    berlin = parse_hours("mon-fri 09:00-17:00,mon 16:00-18:00", "Europe/Berlin")
    # The week the clocks go forward (Sun 2024-03-31): Mon-Fri before it are UTC+1, none after.
    start, end = at("2024-03-25 00:00"), at("2024-04-02 00:00")
    windows = operating_windows(berlin, start, end)
    assert windows[0] == (at("2024-03-25 08:00"), at("2024-03-25 17:00"))  # merged 09-18 CET
    assert windows[-1] == (at("2024-04-01 07:00"), at("2024-04-01 16:00"))  # 09-18 CEST
    assert operating_seconds(berlin, start, end) == (9 + 8 * 4 + 9) * 3600
    night = parse_hours("fri 20:00-02:00", "UTC")
    assert operating_windows(night, at("2024-03-09 00:00"), at("2024-03-09 12:00")) == [
        (at("2024-03-09 00:00"), at("2024-03-09 02:00"))  # Friday's window, clipped
    ]
    always = parse_hours("", "UTC")
    assert operating_seconds(always, start, end) == 8 * 86400
