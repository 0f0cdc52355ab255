"""Exactness of the monthly statements: on random data (hypothesis), every line of a fleet's
statement equals a raw SQL sum over ``plays`` and ``uptime_hourly`` for the same local
month, and its amounts equal the rates applied to those sums, rounded once per line.

The raw side is computed independently of the product: plays by the local date of their
start, online seconds minute by minute against the operating hours written out as SQL (so a
DST change or a half-hour zone is counted as the clock shows it), drivers by the day's
assignment.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billing.lines import LineKey
from billing.months import span
from tests.web.billing_helpers import (
    add_card,
    add_driver,
    assign,
    record_plays,
    record_uptime,
    statements,
)
from tests.web.conftest import Conn, TenantFactory

MONTH = date(2026, 3, 1)
LAST = date(2026, 3, 31)
ZONES = ["Asia/Singapore", "UTC", "Asia/Kolkata", "America/New_York"]
# Operating hours and the same rule as SQL over the local time ``lt`` (independent of the
# product's parser and of web/reports/operating.py).
HOURS = {
    "": "true",
    "mon-fri 07:00-22:00": "extract(isodow FROM lt) <= 5 AND lt::time BETWEEN '07:00' AND '21:59'",
    "sat-sun 09:30-17:45": "extract(isodow FROM lt) >= 6 AND lt::time BETWEEN '09:30' AND '17:44'",
    "mon-sun 20:00-02:00": "(lt::time >= '20:00' OR lt::time < '02:00')",
}
CAMPAIGNS = ["c-a", "c-b"]

RAW_PLAYS = """
SELECT t.car_id, coalesce(a.driver_id, 0), p.campaign_id, count(*)::int,
       (count(*) FILTER (WHERE p.result = 'completed'))::int, sum(p.duration_ms)::bigint
FROM plays p
JOIN tablets t ON t.tablet_id = p.tablet_id
JOIN fleets f ON f.fleet_id = p.fleet_id
LEFT JOIN driver_assignments a ON a.tenant_id = f.tenant_id AND a.car_id = t.car_id
     AND (p.started_at AT TIME ZONE f.timezone)::date >= a.valid_from
     AND (a.valid_to IS NULL OR (p.started_at AT TIME ZONE f.timezone)::date <= a.valid_to)
WHERE p.fleet_id = %(fleet)s
  AND (p.started_at AT TIME ZONE f.timezone)::date BETWEEN %(first)s AND %(last)s
GROUP BY 1, 2, 3
"""
RAW_ONLINE = """
SELECT t.car_id, coalesce(a.driver_id, 0),
       round(sum(u.online_seconds::numeric * m.minutes / 60), 3)
FROM uptime_hourly u
JOIN tablets t ON t.tablet_id = u.tablet_id
JOIN fleets f ON f.fleet_id = t.fleet_id
CROSS JOIN LATERAL (
    SELECT lt::date AS day, count(*) AS minutes
    FROM generate_series(u.hour, u.hour + interval '59 minutes', interval '1 minute') AS g(x)
    CROSS JOIN LATERAL (SELECT g.x AT TIME ZONE f.timezone AS lt) AS l
    WHERE ({hours}) AND lt::date BETWEEN %(first)s AND %(last)s
    GROUP BY 1
) AS m
LEFT JOIN driver_assignments a ON a.tenant_id = f.tenant_id AND a.car_id = t.car_id
     AND m.day >= a.valid_from AND (a.valid_to IS NULL OR m.day <= a.valid_to)
WHERE t.fleet_id = %(fleet)s
GROUP BY 1, 2
"""

data = st.fixed_dictionaries(
    {
        "zone": st.sampled_from(ZONES),
        "hours": st.sampled_from(sorted(HOURS)),
        "basis": st.sampled_from(["play_second", "thousand_plays"]),
        "switch_day": st.integers(min_value=2, max_value=31),
        "plays": st.lists(
            st.tuples(
                st.integers(0, 2),  # tablet
                st.sampled_from(CAMPAIGNS),
                st.integers(-36 * 3600, 33 * 86400),  # seconds from the month's local start
                st.integers(0, 60_000),
                st.sampled_from(["completed", "completed", "skipped", "error"]),
            ),
            max_size=60,
        ),
        "uptime": st.lists(
            st.tuples(
                st.integers(0, 2),
                st.integers(-30, 31 * 24 + 30),  # hours from the month's first UTC hour
                # Seconds to the microsecond, as the hub's timestamps give them.
                st.decimals(0, 3600, places=6).map(float),
            ),
            max_size=80,
            unique_by=lambda u: (u[0], u[1]),
        ),
    }
)


def _case(zone: str, hours: str, uptime: list[tuple[int, int, float]]) -> dict[str, Any]:
    plays = [(0, "c-a", 3600 * h, 15_000, "completed") for _, h, _ in uptime]
    return {
        "zone": zone,
        "hours": hours,
        "basis": "play_second",
        "switch_day": 8,
        "plays": plays,
        "uptime": uptime,
    }


# Hours the month or an operating window cuts in two: the month's edges in a half-hour zone,
# a Saturday's 09:30 and 17:45 in Singapore, the night of New York's change to summer time.
EDGES = [
    _case("Asia/Kolkata", "", [(0, 0, 3600.0), (1, 31 * 24, 3600.0), (2, -1, 1200.5)]),
    _case("Asia/Singapore", "sat-sun 09:30-17:45", [(0, 153, 3600.0), (1, 161, 1800.25)]),
    _case("America/New_York", "mon-sun 20:00-02:00", [(0, h, 3000.0) for h in range(170, 182)]),
]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=data)
@example(data=EDGES[0])
@example(data=EDGES[1])
@example(data=EDGES[2])
def test_statement_lines_equal_raw_sql_sums(
    tenant_factory: TenantFactory, conn: Conn, data: dict[str, Any]
) -> None:
    tenant = tenant_factory(fleets=1, tablets=3)
    fleet = tenant.fleets[0]
    tablets = tenant.tablets[fleet]
    cars = [f"{fleet}-car{n}" for n in range(3)]
    conn.execute(
        "UPDATE fleets SET timezone = %s, operating_hours = %s WHERE fleet_id = %s",
        (data["zone"], data["hours"], fleet),
    )
    card = add_card(
        conn,
        tenant.tenant_id,
        date(2026, 1, 1),
        basis=data["basis"],
        rate="0.0037",
        online="0.45",
        campaigns={"c-b": ("thousand_plays", "3.25")},
    )
    ann = add_driver(conn, tenant.tenant_id, fleet, "Ann")
    bo = add_driver(conn, tenant.tenant_id, fleet, "Bo")
    switch = MONTH + timedelta(days=data["switch_day"] - 1)
    assign(conn, tenant.tenant_id, ann, cars[0], date(2026, 2, 1), switch - timedelta(days=1))
    assign(conn, tenant.tenant_id, bo, cars[0], switch, None)
    lo = span(MONTH, data["zone"])[0]
    record_plays(
        conn,
        [
            (tablets[t], fleet, c, lo + timedelta(seconds=s), ms, r)
            for t, c, s, ms, r in data["plays"]
        ],
    )
    first_hour = lo.replace(minute=0)
    record_uptime(
        conn,
        [(tablets[t], first_hour + timedelta(hours=h), s) for t, h, s in data["uptime"]],
    )

    month = statements(conn, tenant.tenant_id, MONTH)
    (doc,) = month.fleets
    assert doc.adjustments == ()
    lines = {(x.key.car_id, x.key.driver_id, x.key.kind, x.key.campaign_id): x for x in doc.lines}
    params = {"fleet": fleet, "first": MONTH, "last": LAST}
    expected: dict[tuple[str, int, str, str], tuple[int, int, int, Decimal]] = {}
    for car, driver, campaign, plays, completed, ms in conn.execute(RAW_PLAYS, params):
        key = (str(car), int(str(driver)), "plays", str(campaign))
        expected[key] = (int(str(plays)), int(str(completed)), int(str(ms)), Decimal(0))
    raw_online = RAW_ONLINE.replace("{hours}", HOURS[data["hours"]])
    for car, driver, online in conn.execute(raw_online, params):
        if online:
            expected[(str(car), int(str(driver)), "online", "")] = (0, 0, 0, Decimal(str(online)))
    found = {
        k: (x.plays, x.completed, x.play_ms, x.online_s)
        for k, x in lines.items()
        if x.plays or x.online_s
    }
    assert found == expected

    gross = owner = driver_total = Decimal(0)
    for k, x in lines.items():
        assert x.key == LineKey(MONTH, fleet, k[0], k[1], x.key.kind, k[3], card.version)
        if k[2] == "online":
            exact = x.online_s * Decimal("0.45") / 3600
        elif k[3] == "c-b":
            exact = x.completed * Decimal("3.25") / 1000
        elif data["basis"] == "play_second":
            exact = x.play_ms * Decimal("0.0037") / 1000
        else:
            exact = x.completed * Decimal("0.0037") / 1000
        assert x.gross == _cents(exact), k
        assert x.platform + x.owner + x.driver == x.gross
        assert x.driver == (_cents(x.gross * Decimal("0.15")) if k[1] else 0)
        gross, owner, driver_total = gross + x.gross, owner + x.owner, driver_total + x.driver
    totals = doc.totals
    assert (totals.gross, totals.owner, totals.driver) == (gross, owner, driver_total)
    assert doc.payable == owner
    assert sum(d.payable for d in month.drivers) == totals.driver
    assert {d.party for d in month.drivers} <= {str(ann), str(bo)}
