"""The uptime report: page (with a chart) and CSV.

The JSON (web/reports/api.py) is the same computation, through :func:`checked_report`.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from store.fleets import Fleet
from store.users import User
from web.deps import FleetLogin, PoolDep
from web.http.templating import TEMPLATES
from web.reports.heatmap import scoped_fleets
from web.reports.uptime_report import (
    MAX_DAYS,
    ReportInputError,
    UptimeReport,
    UptimeRow,
    parse_group,
    parse_period,
    today_for,
    uptime_report,
)

router = APIRouter(include_in_schema=False)

FromParam = Annotated[
    str | None, Query(alias="from", max_length=32, description="first day (YYYY-MM-DD)")
]
ToParam = Annotated[
    str | None, Query(alias="to", max_length=32, description="last day, inclusive (YYYY-MM-DD)")
]
GroupParam = Annotated[str | None, Query(max_length=16, description="fleet, car or tablet")]
FleetParam = Annotated[str | None, Query(max_length=64, description="only this fleet")]

CSV_COLUMNS = (
    "group_by",
    "key",
    "label",
    "fleet_id",
    "fleet_name",
    "tablets",
    "hours_observed",
    "percent_online",
    "percent_online_operating",
    "online_seconds",
    "observed_seconds",
    "operating_online_seconds",
    "operating_seconds",
)


async def _report(
    pool: PoolDep,
    user: User,
    start: str | None,
    end: str | None,
    group: str | None,
    fleet: str | None,
    fleets: list[Fleet] | None = None,
) -> UptimeReport:
    """Raises :class:`ReportInputError` for bad input, 404 for a fleet outside the user's scope."""
    fleets = await scoped_fleets(pool, user) if fleets is None else fleets
    if fleet and all(f.fleet_id != fleet for f in fleets):
        raise HTTPException(404, f"no fleet {fleet!r}")
    chosen = [f for f in fleets if not fleet or f.fleet_id == fleet]
    period = parse_period(start, end, today_for(chosen))  # the fleets' local today
    return await uptime_report(pool, user, fleets, period, parse_group(group), fleet or None)


async def checked_report(
    pool: PoolDep,
    user: User,
    start: str | None,
    end: str | None,
    group: str | None,
    fleet: str | None,
) -> UptimeReport:
    """The report, bad input as a 422 (the CSV's and the API's)."""
    try:
        return await _report(pool, user, start, end, group, fleet)
    except ReportInputError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/reports/uptime", response_class=HTMLResponse)
async def uptime_page(
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    start: FromParam = None,
    end: ToParam = None,
    group: GroupParam = None,
    fleet: FleetParam = None,
) -> HTMLResponse:
    fleets = await scoped_fleets(pool, login.user)
    report, error = None, None
    try:
        report = await _report(pool, login.user, start, end, group, fleet, fleets)
    except ReportInputError as exc:
        error = str(exc)
    form = {"from": start or "", "to": end or "", "group": group or "fleet", "fleet": fleet or ""}
    if report is not None:
        form = {
            "from": report.period.start.isoformat(),
            "to": report.period.end.isoformat(),
            "group": report.group_by,
            "fleet": report.fleet or "",
        }
    query = urlencode({k: v for k, v in form.items() if v})
    return TEMPLATES.TemplateResponse(
        request,
        "report_uptime.html",
        {
            "login": login,
            "fleets": fleets,
            "form": form,
            "report": report,
            "error": error,
            "csv_url": f"/reports/uptime.csv?{query}",
            "api_url": f"/api/v1/reports/uptime?{query}",
            "max_days": MAX_DAYS,
        },
        status_code=422 if error else 200,
    )


@router.get("/reports/uptime.csv")
async def uptime_csv(
    pool: PoolDep,
    login: FleetLogin,
    start: FromParam = None,
    end: ToParam = None,
    group: GroupParam = None,
    fleet: FleetParam = None,
) -> Response:
    report = await checked_report(pool, login.user, start, end, group, fleet)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in (*report.rows, report.total):
        writer.writerow(_csv_row(report.group_by if row.fleet_id else "total", row))
    name = f"uptime-{report.period.start}-{report.period.end}-by-{report.group_by}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _csv_row(group: str, row: UptimeRow) -> list[object]:
    def blank(value: Decimal | None) -> object:
        return "" if value is None else value

    return [
        group,
        row.key,
        row.label,
        row.fleet_id or "",
        row.fleet_name or "",
        row.tablets,
        row.hours_observed,
        blank(row.percent_online),
        blank(row.percent_operating),
        row.online_seconds,
        row.observed_seconds,
        row.operating_online_seconds,
        row.operating_seconds,
    ]
