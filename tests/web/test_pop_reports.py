"""Proof-of-play reports: grouping, filters, JSON = CSV = page = raw plays, input, scoping."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from store import device_tokens
from tests.helpers import store
from tests.web.conftest import Conn, Tenant, TenantFactory, api_token, sign_in
from web.reports.pop_report import ReportInputError, cell, parse_period

API = "/api/v1/reports/proof-of-play"
RANGE = {"from": "2024-03-04", "to": "2024-03-06"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


Play = tuple[str, str, str, str, int, str]  # tablet, fleet, campaign, started_at, ms, result


def record(conn: Conn, plays: list[Play]) -> None:
    """Raw plays into ``plays`` and their exact sums per local day (the fleet's zone, as the
    hub adds them) into ``plays_daily``."""
    daily: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    fleet_of: dict[str, str] = {}
    for tablet, fleet, campaign, started, ms, result in plays:
        when = at(started)
        zone = conn.execute("SELECT timezone FROM fleets WHERE fleet_id = %s", (fleet,)).fetchone()
        assert zone is not None
        conn.execute(
            "INSERT INTO plays (started_at, event_id, tablet_id, fleet_id, ad_id, campaign_id,"
            " playlist_id, playlist_etag, duration_ms, result, received_at)"
            " VALUES (%s, %s, %s, %s, 'ad-1', %s, 'pl-1', 'etag', %s, %s, %s)",
            (when, uuid.uuid4(), tablet, fleet, campaign, ms, result, when),
        )
        sums = daily[(when.astimezone(ZoneInfo(str(zone[0]))).date(), campaign, tablet)]
        sums[0] += 1
        sums[1] += result == "completed"
        sums[2] += ms
        fleet_of[tablet] = fleet
    for (day, campaign, tablet), (n, done, ms) in daily.items():
        conn.execute(
            "INSERT INTO plays_daily (day, campaign_id, tablet_id, fleet_id, plays, completed,"
            " duration_ms) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (day, campaign, tablet, fleet_of[tablet], n, done, ms),
        )


def seeded(tenant_factory: TenantFactory, conn: Conn) -> tuple[Tenant, Tenant]:
    """Two tenants that both use campaign ``c-1``; expected figures are in the tests."""
    mine, theirs = tenant_factory(), tenant_factory()
    (a0, a1), (b0, b1) = (mine.tablets[f] for f in mine.fleets)
    f0, f1 = mine.fleets
    record(
        conn,
        [
            (a0, f0, "c-1", "2024-03-04 10:00", 15_000, "completed"),
            (a0, f0, "c-1", "2024-03-04 11:00", 15_000, "completed"),
            (a0, f0, "c-2", "2024-03-05 09:00", 10_000, "skipped"),
            (a1, f0, "c-1", "2024-03-06 23:59:59", 20_000, "completed"),
            (b0, f1, "c-1", "2024-03-05 00:00", 5_000, "interrupted"),
            (b0, f1, "c-2", "2024-03-06 12:00", 30_000, "completed"),
            (b1, f1, "c-1", "2024-03-03 23:59:59", 7_000, "completed"),  # the day before
            (b1, f1, "c-1", "2024-03-07 00:00", 7_000, "completed"),  # the day after
        ],
    )
    t0 = theirs.tablets[theirs.fleets[0]][0]
    record(conn, [(t0, theirs.fleets[0], "c-1", "2024-03-05 10:00", 60_000, "completed")] * 3)
    return mine, theirs


def api(client: TestClient, headers: dict[str, str], **params: str) -> Any:
    response = client.get(API, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def figures(row: dict[str, Any]) -> tuple[int, int, int]:
    return int(row["plays"]), int(row["completed"]), int(row["duration_ms"])


def by_key(body: Any) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {(r["key"], r["campaign_id"]): figures(r) for r in body["rows"]}


def csv_lines(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def page_total(client: TestClient, **params: str) -> tuple[int, int, str]:
    response = client.get("/reports/plays", params=params)
    assert response.status_code == 200, response.text
    row = re.search(r'<tr class="total" data-key="total">(.*?)</tr>', response.text, re.S)
    assert row, response.text
    cols = dict(re.findall(r'data-col="(\w+)">([^<]*)<', row.group(1)))
    return int(cols["plays"]), int(cols["completed"]), cols["duration_seconds"]


def raw_sums(
    conn: Conn, tenant: Tenant, fleets: list[str], campaign: str | None
) -> tuple[int, ...]:
    """Straight from the raw plays, not the rollup: plays, completed, duration_ms."""
    row = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE p.result = 'completed'),"
        " coalesce(sum(p.duration_ms), 0) FROM plays p JOIN fleets f USING (fleet_id)"
        " WHERE f.tenant_id = %s AND p.fleet_id = ANY(%s)"
        " AND p.started_at >= %s AND p.started_at < %s"
        " AND (%s::text IS NULL OR p.campaign_id = %s)",
        (
            tenant.tenant_id,
            fleets,
            at("2024-03-04 00:00"),
            at("2024-03-07 00:00"),
            campaign,
            campaign,
        ),
    ).fetchone()
    assert row is not None
    return tuple(int(v) for v in row)  # type: ignore[call-overload]


def test_groups_by_day_fleet_and_tablet(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, _ = seeded(tenant_factory, conn)
    headers = api_token(panel, mine.admin)
    f0, f1 = mine.fleets
    (a0, a1), (b0, _) = (mine.tablets[f] for f in mine.fleets)

    by_day = api(panel, headers, **RANGE, group_by="day", campaign_id="c-1")
    assert by_day["group_by"] == "day"
    assert by_day["campaign_id"] == "c-1"
    assert (by_day["first_day"], by_day["last_day"]) == ("2024-03-04", "2024-03-06")
    assert by_key(by_day) == {
        ("2024-03-04", "c-1"): (2, 2, 30_000),
        ("2024-03-05", "c-1"): (1, 0, 5_000),
        ("2024-03-06", "c-1"): (1, 1, 20_000),
    }
    assert figures(by_day["totals"]) == (4, 3, 55_000)
    assert by_day["totals"]["duration_seconds"] == "55"

    by_fleet = api(panel, headers, **RANGE, group_by="fleet")
    assert by_key(by_fleet) == {
        (f0, "c-1"): (3, 3, 50_000),
        (f0, "c-2"): (1, 0, 10_000),
        (f1, "c-1"): (1, 0, 5_000),
        (f1, "c-2"): (1, 1, 30_000),
    }
    assert {r["label"] for r in by_fleet["rows"]} == {f"Fleet {f0[3:11]} 0", f"Fleet {f1[3:11]} 1"}
    assert figures(by_fleet["totals"]) == (6, 4, 95_000)

    by_tablet = api(panel, headers, **RANGE, group_by="tablet", campaign_id="c-1")
    assert by_key(by_tablet) == {
        (a0, "c-1"): (2, 2, 30_000),
        (a1, "c-1"): (1, 1, 20_000),
        (b0, "c-1"): (1, 0, 5_000),
    }
    assert {r["key"]: r["fleet_id"] for r in by_tablet["rows"]} == {a0: f0, a1: f0, b0: f1}

    one_fleet = api(panel, headers, **RANGE, group_by="tablet", fleet=f1)
    assert by_key(one_fleet) == {(b0, "c-1"): (1, 0, 5_000), (b0, "c-2"): (1, 1, 30_000)}

    default_group = api(panel, headers, **RANGE)
    assert default_group["group_by"] == "day"
    assert figures(default_group["totals"]) == (6, 4, 95_000)
    # The days either side of the range are left out, whatever the grouping.
    wider = api(panel, headers, **{"from": "2024-03-03", "to": "2024-03-07"}, group_by="fleet")
    assert figures(wider["totals"]) == (8, 6, 109_000)


@pytest.mark.parametrize("group_by", ["day", "fleet", "tablet"])
@pytest.mark.parametrize("campaign", [None, "c-1", "c-2"])
def test_totals_are_equal_in_json_csv_page_and_raw_plays(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    group_by: str,
    campaign: str | None,
) -> None:
    mine, _ = seeded(tenant_factory, conn)
    headers = api_token(panel, mine.admin)
    sign_in(panel, mine.admin)
    params = {**RANGE, "group_by": group_by, **({"campaign_id": campaign} if campaign else {})}

    body = api(panel, headers, **params)
    totals = figures(body["totals"])
    assert totals == raw_sums(conn, mine, mine.fleets, campaign)
    assert sum(r["plays"] for r in body["rows"]) == totals[0]

    response = panel.get(f"{API}.csv", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    lines = csv_lines(response.text)
    *rows, total = lines
    assert total["group_by"] == "total"
    assert figures(total) == totals
    assert tuple(sum(f) for f in zip(*(figures(r) for r in rows), strict=True)) == totals
    assert [(r["key"], r["campaign_id"]) for r in rows] == [
        (r["key"], r["campaign_id"]) for r in body["rows"]
    ]
    assert total["duration_seconds"] == body["totals"]["duration_seconds"]

    session_csv = panel.get("/reports/plays.csv", params=params)
    assert session_csv.status_code == 200
    assert session_csv.text == response.text
    assert session_csv.headers["content-disposition"] == response.headers["content-disposition"]

    plays, completed, seconds = page_total(panel, **params)
    assert (plays, completed) == totals[:2]
    assert seconds == body["totals"]["duration_seconds"]


def test_fleet_owner_sees_only_their_fleet(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, _ = seeded(tenant_factory, conn)
    headers = api_token(panel, mine.owner)
    sign_in(panel, mine.owner)
    f0, f1 = mine.fleets
    body = api(panel, headers, **RANGE, group_by="fleet")
    assert {r["key"] for r in body["rows"]} == {f0}
    assert figures(body["totals"]) == (4, 3, 60_000) == raw_sums(conn, mine, [f0], None)
    hidden = mine.tablets[f1][0]
    assert hidden not in repr(api(panel, headers, **RANGE, group_by="tablet"))
    assert hidden not in panel.get("/reports/plays", params={**RANGE, "group_by": "tablet"}).text
    # A fleet of their tenant they do not own is missing, on every route.
    for url, with_headers in (
        (API, True),
        (f"{API}.csv", True),
        ("/reports/plays", False),
        ("/reports/plays.csv", False),
    ):
        response = panel.get(
            url, params={**RANGE, "fleet": f1}, headers=headers if with_headers else None
        )
        assert response.status_code == 404, url
        assert hidden not in response.text


def test_other_tenants_plays_never_show(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, theirs = seeded(tenant_factory, conn)
    their_fleet, their_tablet = theirs.fleets[0], theirs.tablets[theirs.fleets[0]][0]
    headers = api_token(panel, mine.admin)
    sign_in(panel, mine.admin)
    for group_by in ("day", "fleet", "tablet"):
        params = {**RANGE, "group_by": group_by, "campaign_id": "c-1"}
        body = api(panel, headers, **params)
        assert figures(body["totals"]) == (4, 3, 55_000)  # not their 3 plays of c-1
        for text in (
            repr(body),
            panel.get(f"{API}.csv", params=params, headers=headers).text,
            panel.get("/reports/plays", params=params).text,
            panel.get("/reports/plays.csv", params=params).text,
        ):
            assert their_tablet not in text
            assert their_fleet not in text
    for url, with_headers in (
        (API, True),
        (f"{API}.csv", True),
        ("/reports/plays", False),
        ("/reports/plays.csv", False),
    ):
        response = panel.get(
            url, params={**RANGE, "fleet": their_fleet}, headers=headers if with_headers else None
        )
        assert response.status_code == 404, url
        assert their_tablet not in response.text
    # They see their own plays, and only those.
    theirs_body = api(panel, api_token(panel, theirs.admin), **RANGE, group_by="tablet")
    assert by_key(theirs_body) == {(their_tablet, "c-1"): (3, 3, 180_000)}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2024-3-4", "to": "2024-03-06"}, "'from' must be a date"),
        ({"from": "2024-03-04", "to": "yesterday"}, "'to' must be a date"),
        ({"from": "2024-02-30", "to": "2024-03-06"}, "'from' must be a date"),
        ({"from": "2024-03-06", "to": "2024-03-04"}, "is before 'from'"),
        ({"from": "2023-01-01", "to": "2024-01-02"}, "at most 366"),
        ({**RANGE, "group_by": "week"}, "group_by must be one of day, fleet, tablet"),
        ({**RANGE, "campaign_id": "c" * 129}, "campaign_id is longer"),
    ],
)
def test_bad_parameters_are_422_with_a_reason(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    params: dict[str, str],
    message: str,
) -> None:
    mine, _ = seeded(tenant_factory, conn)
    headers = api_token(panel, mine.admin)
    sign_in(panel, mine.admin)
    for url in (API, f"{API}.csv"):
        response = panel.get(url, params=params, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert message in response.json()["detail"]
    response = panel.get("/reports/plays.csv", params=params)
    assert response.status_code == 422
    assert message in response.text
    page = panel.get("/reports/plays", params=params)
    assert page.status_code == 422
    assert 'role="alert"' in page.text
    assert message.replace("'", "&#39;") in page.text
    assert 'id="report"' not in page.text


def test_range_limits(panel: TestClient, tenant_factory: TenantFactory, conn: Conn) -> None:
    mine, _ = seeded(tenant_factory, conn)
    headers = api_token(panel, mine.admin)
    leap_year = api(panel, headers, **{"from": "2024-01-01", "to": "2024-12-31"})  # 366 days
    assert figures(leap_year["totals"]) == (8, 6, 109_000)
    one_day = api(panel, headers, **{"from": "2024-03-06", "to": "2024-03-06"})
    assert figures(one_day["totals"]) == (2, 2, 50_000)
    today = date(2024, 3, 6)
    default = parse_period(None, None, today)
    assert (default.start, default.end, default.days) == (date(2024, 2, 29), today, 7)
    with pytest.raises(ReportInputError):
        parse_period("2024-01-01", "2025-01-01", today)


def test_csv_cells_cannot_run_as_formulas(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine = tenant_factory(fleets=1, tablets=1)
    fleet = mine.fleets[0]
    tablet = mine.tablets[fleet][0]
    evil = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)"]
    record(conn, [(tablet, fleet, c, "2024-03-05 10:00", 1000, "completed") for c in evil])
    headers = api_token(panel, mine.admin)
    text = panel.get(f"{API}.csv", params={**RANGE, "group_by": "fleet"}, headers=headers).text
    campaigns = [r["campaign_id"] for r in csv_lines(text)[:-1]]
    assert sorted(campaigns) == sorted("'" + c for c in evil)
    assert {r["campaign_id"] for r in api(panel, headers, **RANGE)["rows"]} == set(evil)
    assert [cell(v) for v in ("a=b", 12, None, "-x")] == ["a=b", "12", "", "'-x"]


def test_page_shows_a_chart_and_links_to_the_csv(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, _ = seeded(tenant_factory, conn)
    sign_in(panel, mine.admin)
    page = panel.get("/reports/plays", params={**RANGE, "group_by": "day"})
    assert page.status_code == 200
    bars = dict(
        re.findall(r'<g data-key="([^"]+)">\s*<title>[^<]*: (\d+) plays</title>', page.text)
    )
    assert bars == {"2024-03-04": "2", "2024-03-05": "2", "2024-03-06": "2"}
    link = re.search(r'href="(/reports/plays\.csv\?[^"]+)" id="csv-link"', page.text)
    assert link
    csv_text = panel.get(link.group(1).replace("&amp;", "&")).text
    assert figures(csv_lines(csv_text)[-1]) == (6, 4, 95_000)
    assert 'href="/reports/plays"' in panel.get("/reports/uptime").text
    empty = panel.get("/reports/plays", params={"from": "2020-01-01", "to": "2020-01-02"})
    assert empty.status_code == 200
    assert "No plays were recorded" in empty.text


def test_authentication_and_the_spec_path(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    mine, _ = seeded(tenant_factory, conn)
    assert panel.get(API, params=RANGE).status_code == 401
    assert panel.get(f"{API}.csv", params=RANGE).status_code == 401
    login = panel.get("/reports/plays.csv", params=RANGE, follow_redirects=False)
    assert login.status_code == 303
    assert login.headers["location"].startswith("/login")
    headers = api_token(panel, mine.admin)
    params = {**RANGE, "group_by": "fleet"}
    assert panel.get("/v1/reports/proof-of-play", params=params, headers=headers).json() == api(
        panel, headers, **params
    )
    spec_csv = panel.get("/v1/reports/proof-of-play.csv", params=params, headers=headers)
    assert spec_csv.text == panel.get(f"{API}.csv", params=params, headers=headers).text
    assert figures(csv_lines(spec_csv.text)[-1]) == (6, 4, 95_000)
    schema = panel.get("/openapi.json").json()["paths"]
    assert API in schema
    assert f"{API}.csv" in schema


def test_days_are_the_fleets_local_days(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    """Issue 11, defect 6: a play at 23:30 UTC in a Singapore fleet is on the next day there
    (07:30 local), as the uptime report counts days; it was on the UTC day."""
    mine = tenant_factory(fleets=1, tablets=1)
    fleet = mine.fleets[0]
    conn.execute("UPDATE fleets SET timezone = 'Asia/Singapore' WHERE fleet_id = %s", (fleet,))
    record(conn, [(mine.tablets[fleet][0], fleet, "c-1", "2024-03-04 23:30", 1000, "completed")])
    headers = api_token(panel, mine.admin)
    body = api(panel, headers, **{"from": "2024-03-05", "to": "2024-03-05"})
    assert [r["key"] for r in body["rows"]] == ["2024-03-05"]
    assert api(panel, headers, **{"from": "2024-03-04", "to": "2024-03-04"})["rows"] == []


def test_plays_a_tablet_sends_count_on_its_fleets_local_day(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    """The hub's and the device API's rollup (store/plays.py) files a play under the local
    day of its start in its fleet's zone: 20:00 UTC is the next day in Singapore."""
    tenant = tenant_factory(fleets=1, tablets=1)
    fleet, (tablet,) = tenant.fleets[0], tenant.all_tablets
    conn.execute("UPDATE fleets SET timezone = 'Asia/Singapore' WHERE fleet_id = %s", (fleet,))
    device = {
        "Authorization": "Bearer "
        + store(conn, lambda aconn: device_tokens.issue(aconn, tablet, "test"))
    }
    now = datetime.now(UTC)
    started = now.replace(hour=20, minute=0, second=0, microsecond=0)
    if started > now - timedelta(minutes=5):
        started -= timedelta(days=1)
    play = {
        "event_id": str(uuid.uuid4()),
        "ad_id": "ad-1",
        "campaign_id": "c-local",
        "playlist_id": "pl-1",
        "playlist_etag": "etag",
        "started_at": started.isoformat(),
        "duration_ms": 15_000,
        "result": "completed",
    }
    sent = panel.post("/v1/device/events", headers=device, json={"events": [play]})
    assert sent.json()["accepted"] == 1, sent.text
    local_day = started.astimezone(ZoneInfo("Asia/Singapore")).date()
    assert local_day == started.date() + timedelta(days=1)
    headers = api_token(panel, tenant.admin)
    day = api(panel, headers, **{"from": str(local_day), "to": str(local_day)})
    assert [(r["key"], r["plays"]) for r in day["rows"]] == [(str(local_day), 1)]
    assert (
        api(panel, headers, **{"from": str(started.date()), "to": str(started.date())})["rows"]
        == []
    )
