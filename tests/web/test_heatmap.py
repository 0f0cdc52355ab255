"""Uptime heatmaps: cell percents, grey before registration, local days, paging, scoping."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.web.conftest import Conn, TenantFactory, api_token, sign_in

HOUR = timedelta(hours=1)


def this_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def hour_title(start: datetime, zone: str = "UTC") -> str:
    local, until = start.astimezone(ZoneInfo(zone)), (start + HOUR).astimezone(ZoneInfo(zone))
    return f"{local:%a %Y-%m-%d %H:%M}–{until:%H:%M} {local.tzname()}"


def cells(page: str, kind: str) -> dict[str, str]:
    """title → shown text of every cell of one heatmap ('50.00 % online', 'no data')."""
    table = re.search(rf'<table class="heat" id="heat-{kind}">(.*?)</table>', page, re.S)
    assert table, page[:2000]
    titles = re.findall(r'<td class="(?:p\d+|nd)" title="([^"]*)"', table.group(1))
    return dict(t.rsplit(": ", 1) for t in map(html.unescape, titles))


def cell_class(page: str, title: str) -> str:
    found = re.search(rf'<td class="([a-z0-9]+)" title="{re.escape(html.escape(title))}: ', page)
    assert found, title
    return found.group(1)


def test_hour_cells_give_the_percent_online(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=2)
    a, b = tenant.all_tablets
    now = this_hour()
    conn.execute(
        "UPDATE tablets SET registered_at = %s WHERE tablet_id = %s", (now - 40 * 24 * HOUR, a)
    )
    conn.execute(
        "UPDATE tablets SET registered_at = %s WHERE tablet_id = %s",
        (now - 5 * HOUR + timedelta(minutes=30), b),
    )
    rows = [
        (a, now - 3 * HOUR, 3600),
        (a, now - 4 * HOUR, 1800),
        (a, now - 6 * HOUR, 900),
        (b, now - 5 * HOUR, 900),
        (b, now - 4 * HOUR, 3600),
    ]
    for tablet, hour, seconds in rows:
        conn.execute("INSERT INTO uptime_hourly VALUES (%s, %s, %s)", (tablet, hour, seconds))
    sign_in(panel, tenant.owner)
    page = panel.get("/heatmap")
    assert page.status_code == 200
    got = cells(page.text, "hourly")
    assert len(got) == 2 * 24

    def cell(tablet: str, back: int) -> str:
        return got[f"{tablet} · {hour_title(now - back * HOUR)}"]

    assert cell(a, 3) == "100.00 % online"
    assert cell(a, 4) == "50.00 % online"
    assert cell(a, 6) == "25.00 % online"
    assert cell(a, 8) == "0.00 % online"  # registered, no uptime row: offline
    assert cell(b, 5) == "50.00 % online"  # 900 s of the 1800 s after registration
    assert cell(b, 6) == "no data"  # before registration
    assert cell(b, 20) == "no data"
    assert cell_class(page.text, f"{a} · {hour_title(now - 3 * HOUR)}") == "p10"
    assert cell_class(page.text, f"{a} · {hour_title(now - 4 * HOUR)}") == "p5"
    assert cell_class(page.text, f"{a} · {hour_title(now - 8 * HOUR)}") == "p0"
    assert cell_class(page.text, f"{b} · {hour_title(now - 6 * HOUR)}") == "nd"
    assert "no data" in page.text  # the legend
    kolkata = panel.get("/heatmap", params={"tz": "Asia/Kolkata"})
    assert f"{a} · {hour_title(now - 3 * HOUR, 'Asia/Kolkata')}: 100.00 % online" in html.unescape(
        kolkata.text
    )
    assert re.search(r'<th scope="col" title="[^"]+IST">\d\d:30</th>', kolkata.text)


def test_day_cells_are_the_fleets_local_days(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=2, tablets=1)
    (a,), (b,) = tenant.tablets.values()
    conn.execute(
        "UPDATE fleets SET timezone = 'Asia/Singapore' WHERE fleet_id = %s", (tenant.fleets[0],)
    )
    conn.execute(
        "UPDATE fleets SET timezone = 'Asia/Kolkata' WHERE fleet_id = %s", (tenant.fleets[1],)
    )
    conn.execute(
        "UPDATE tablets SET registered_at = now() - interval '60 days' WHERE fleet_id = ANY(%s)",
        (tenant.fleets,),
    )
    day = datetime.now(UTC).date() - timedelta(days=3)
    sgt_start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo("Asia/Singapore"))
    for n in range(12):  # half of that Singapore day (16:00 UTC the day before onwards)
        conn.execute("INSERT INTO uptime_hourly VALUES (%s, %s, 3600)", (a, sgt_start + n * HOUR))
    # Kolkata's day starts at 18:30 UTC: this hour is half on the day before, half on the day.
    ist_start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo("Asia/Kolkata"))
    conn.execute(
        "INSERT INTO uptime_hourly VALUES (%s, %s, 3600)", (b, ist_start - timedelta(minutes=30))
    )
    headers = api_token(panel, tenant.admin)
    sign_in(panel, tenant.admin)
    got = cells(panel.get("/heatmap").text, "daily")
    label = f"{day:%a %Y-%m-%d}"
    before = f"{day - timedelta(days=1):%a %Y-%m-%d}"
    assert got[f"{a} · {label}"] == "50.00 % online"
    assert got[f"{a} · {before}"] == "0.00 % online"
    assert got[f"{b} · {label}"] == "2.08 % online"  # 1800 / 86400
    assert got[f"{b} · {before}"] == "2.08 % online"
    daily = panel.get("/api/v1/heatmap/daily", headers=headers)
    assert daily.status_code == 200
    body = daily.json()
    assert len(body["columns"]) == 30
    index = [c["title"] for c in body["columns"]].index(label)
    row = next(r for r in body["rows"] if r["tablet_id"] == a)
    assert row["cells"][index] == "50.00"
    hourly = panel.get(
        "/api/v1/heatmap/hourly", headers=headers, params={"fleet": tenant.fleets[0]}
    ).json()
    assert hourly["timezone"] == "Asia/Singapore"
    assert [r["tablet_id"] for r in hourly["rows"]] == [a]
    assert all(len(r["cells"]) == 24 for r in hourly["rows"])


def test_search_paging_and_cap(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    fleet = tenant.fleets[0]
    conn.execute(
        "INSERT INTO tablets (tablet_id, fleet_id, offline_after_s)"
        " SELECT %s || '-bulk' || lpad(n::text, 3, '0'), %s, 180"
        " FROM generate_series(1, 500) AS n",
        (fleet, fleet),
    )
    sign_in(panel, tenant.owner)
    first = panel.get("/heatmap")
    assert first.status_code == 200
    assert "Showing tablets 1–500 of 501" in first.text
    assert len(cells(first.text, "hourly")) == 500 * 24
    assert len(cells(first.text, "daily")) == 500 * 30
    assert "/heatmap?page=2" in first.text
    second = panel.get("/heatmap", params={"page": 2})
    assert "Showing tablets 501–501 of 501" in second.text
    assert len(cells(second.text, "hourly")) == 24
    found = panel.get("/heatmap", params={"q": "bulk007"})
    assert re.findall(r'<tr data-tablet="([^"]+)"', found.text) == [f"{fleet}-bulk007"] * 2
    by_car = panel.get("/heatmap", params={"q": "car0"})
    assert re.findall(r'<tr data-tablet="([^"]+)"', by_car.text) == [tenant.all_tablets[0]] * 2


def test_scoping_and_bad_zone(panel: TestClient, tenant_factory: TenantFactory) -> None:
    tenant = tenant_factory(fleets=2, tablets=1)
    other = tenant_factory(fleets=1, tablets=1)
    sign_in(panel, tenant.owner)
    shown = set(re.findall(r'<tr data-tablet="([^"]+)"', panel.get("/heatmap").text))
    assert shown == set(tenant.tablets[tenant.fleets[0]])
    assert panel.get("/heatmap", params={"fleet": tenant.fleets[1]}).status_code == 404
    assert panel.get("/heatmap", params={"fleet": other.fleets[0]}).status_code == 404
    bad = panel.get("/heatmap", params={"tz": "Mars/Olympus"})
    assert bad.status_code == 422
    assert "unknown time zone" in bad.text
    sign_in(panel, tenant.admin)
    shown = set(re.findall(r'<tr data-tablet="([^"]+)"', panel.get("/heatmap").text))
    assert shown == set(tenant.all_tablets)
    assert panel.get("/heatmap", params={"fleet": other.fleets[0]}).status_code == 404
    headers = api_token(panel, other.admin)
    for kind in ("hourly", "daily"):
        url = f"/api/v1/heatmap/{kind}"
        assert (
            panel.get(url, params={"fleet": tenant.fleets[0]}, headers=headers).status_code == 404
        )
        rows = panel.get(url, headers=headers).json()["rows"]
        assert {r["tablet_id"] for r in rows} == set(other.all_tablets)
    assert (
        panel.get(
            "/api/v1/heatmap/hourly", params={"tz": "Mars/Olympus"}, headers=headers
        ).status_code
        == 422
    )
    assert panel.get("/api/v1/heatmap/hourly").status_code == 401
