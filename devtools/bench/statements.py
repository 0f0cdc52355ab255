"""The statements benchmark: a month's statements for 20,000 tablets × 31 days.

A fresh embedded PostgreSQL is seeded with one tenant: fleets of 1,000 tablets in Singapore
with operating hours, each tablet in its own car with a driver (every tenth car changes
driver on the 16th), a rate card with campaign rates, three campaigns a tablet a day in
``plays_daily`` and every hour of the month in ``uptime_hourly``. Then the month's
statements are computed as the panel does for an admin (web/earnings/compute.py: the two
usage queries, pricing, fleet and driver statements), ``repeat`` times, and the month is
closed once (every document frozen with its hash).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console

from billing.months import last_day, previous_month, span
from billing.rates import CampaignRate, RateCard, Shares
from broker.processes import free_port
from devtools.bench.stats import summary
from devtools.embedded_db import EmbeddedPostgres
from store import bench_seed, db, fleets, rate_cards, users
from store.users import User
from web.earnings.closing import close_month
from web.earnings.compute import Scope, month_statements

TENANT = "bench-statements"
PER_FLEET = 1000
HOURS = "mon-fri 07:00-22:00,sat-sun 09:00-23:00"
ZONE = "Asia/Singapore"


@dataclass(frozen=True)
class StatementsBenchConfig:
    tablets: int = 20_000
    repeat: int = 3
    work_dir: Path = Path("var/bench")


def last_long_month(now: datetime) -> date:
    """The latest month before ``now``'s with 31 days."""
    month = previous_month(now.date().replace(day=1))
    while last_day(month).day != 31:
        month = previous_month(month)
    return month


async def seed(url: str, tablets: int, month: date, console: Console) -> dict[str, int]:
    days = last_day(month).day
    lo = span(month, ZONE)[0]
    async with db.connect(url) as conn:
        await users.add_tenant(conn, TENANT, "Statements benchmark", "bench")
        for n in range(1, (tablets + PER_FLEET - 1) // PER_FLEET + 1):
            spec = fleets.FleetSpec(f"bs-{n}", ZONE, 300, HOURS, 6, f"Bench fleet {n}", TENANT)
            await fleets.add_fleet(conn, spec, "bench")
        card = RateCard(
            0, month, None, "play_second", Decimal("0.0008"), Decimal("0.35"),
            Shares(Decimal(40), Decimal(45), Decimal(15)),
            (CampaignRate("camp-b", "thousand_plays", Decimal("2.40")),),
        )  # fmt: skip
        await rate_cards.add(conn, TENANT, card, "bench")
        async with conn.transaction():
            await bench_seed.statement_fleet(conn, TENANT, PER_FLEET, tablets, month, days)
        step = 2000
        for start in range(1, tablets + 1, step):
            console.log(f"uptime of tablets {start}–{min(start + step - 1, tablets)}")
            await bench_seed.statement_uptime(
                conn, start, min(start + step - 1, tablets), lo, days * 24
            )
        await bench_seed.analyze(conn)
    return {
        "days": days,
        "plays_daily_rows": tablets * days * 3,
        "uptime_rows": tablets * days * 24,
    }


async def measure(url: str, month: date, repeat: int) -> dict[str, Any]:
    scope = Scope(TENANT, None, None)
    times: list[float] = []
    async with db.connect(url) as conn:
        for _ in range(repeat):
            started = time.perf_counter()
            found = await month_statements(conn, scope, month)
            times.append(time.perf_counter() - started)
        lines = sum(len(s.lines) for s in found.fleets)
        gross = sum((s.totals.gross for s in found.fleets), Decimal(0))
        admin = User(0, TENANT, "bench@bench-statements.example", "Bench", "admin", None)
        started = time.perf_counter()
        closed = await close_month(conn, admin, month, datetime.now(UTC))
        close_s = time.perf_counter() - started
    return {
        "compute_s": summary(times),
        "compute_first_s": times[0],
        "fleet_statements": len(found.fleets),
        "driver_statements": len(found.drivers),
        "lines": lines,
        "gross": str(gross),
        "close_s": close_s,
        "documents_frozen": closed.documents,
    }


def run_statements_bench(cfg: StatementsBenchConfig, console: Console) -> dict[str, Any]:
    month = last_long_month(datetime.now(UTC))
    data = cfg.work_dir / "pgdata-statements"
    shutil.rmtree(data, ignore_errors=True)
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    server = EmbeddedPostgres(data, port=free_port())
    url = server.start()
    try:
        db.migrate(url)
        started = time.perf_counter()
        seeded = asyncio.run(seed(url, cfg.tablets, month, console))
        seed_s = time.perf_counter() - started
        with console.status(f"computing {month:%Y-%m}'s statements {cfg.repeat} times…"):
            measured = asyncio.run(measure(url, month, cfg.repeat))
        return {
            "started_at": f"statements-{datetime.now(UTC):%Y%m%dT%H%M%SZ}",
            "config": {"tablets": cfg.tablets, "repeat": cfg.repeat, "month": f"{month:%Y-%m}"},
            "seed": {**seeded, "seconds": seed_s},
            **measured,
        }
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def print_statements_summary(report: dict[str, Any], console: Console) -> None:
    c = report["compute_s"]
    console.print(
        f"[bold]statements[/bold] {report['config']['month']}: {report['config']['tablets']}"
        f" tablets × {report['seed']['days']} days ({report['seed']['plays_daily_rows']:,}"
        f" plays_daily rows, {report['seed']['uptime_rows']:,} uptime_hourly rows) →"
        f" {report['fleet_statements']} fleet and {report['driver_statements']} driver"
        f" statements, {report['lines']:,} lines: computed in p50 {c['p50']:.2f} s"
        f" (first {report['compute_first_s']:.2f} s, max {c['max']:.2f} s); closing (frozen"
        f" with hashes) {report['close_s']:.2f} s"
    )
