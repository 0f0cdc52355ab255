"""Proof-of-play reports for the panel: a page and its CSV.

They and the API's JSON and CSV (web/reports/api.py) all answer from
:func:`web.reports.pop_report.play_report`, so they carry the same rows and the same totals.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from store.fleets import Fleet
from store.users import User
from web.deps import FleetLogin, PoolDep
from web.http.templating import TEMPLATES
from web.reports.heatmap import scoped_fleets
from web.reports.pop_report import (
    GROUPS,
    MAX_DAYS,
    PlayReport,
    ReportInputError,
    csv_filename,
    parse_query,
    play_report,
    report_csv,
)
from web.reports.uptime_report import today_for

router = APIRouter(include_in_schema=False)

API_PATH = "/api/v1/reports/proof-of-play"

CampaignParam = Annotated[
    str | None, Query(max_length=256, description="only this campaign (all when omitted)")
]
FromParam = Annotated[
    str | None, Query(alias="from", max_length=32, description="first local day (YYYY-MM-DD)")
]
ToParam = Annotated[
    str | None, Query(alias="to", max_length=32, description="last local day, inclusive")
]
GroupParam = Annotated[str | None, Query(max_length=16, description="day, fleet or tablet")]
FleetParam = Annotated[str | None, Query(max_length=64, description="only this fleet")]


async def _report(
    pool: PoolDep,
    user: User,
    params: tuple[str | None, str | None, str | None, str | None, str | None],
    fleets: list[Fleet] | None = None,
) -> PlayReport:
    """Raises :class:`ReportInputError` for bad input, 404 for a fleet outside the scope."""
    campaign, start, end, group, fleet = params
    fleets = await scoped_fleets(pool, user) if fleets is None else fleets
    wanted = (fleet or "").strip()
    chosen = [f for f in fleets if not wanted or f.fleet_id == wanted]
    query = parse_query(start, end, group, campaign, fleet, today_for(chosen))
    if query.fleet is not None and all(f.fleet_id != query.fleet for f in fleets):
        raise HTTPException(404, f"no fleet {query.fleet!r}")
    return await play_report(pool, user, query)


async def checked_report(
    pool: PoolDep,
    user: User,
    params: tuple[str | None, str | None, str | None, str | None, str | None],
) -> PlayReport:
    """The report, bad input as a 422 (the CSV's and the API's)."""
    try:
        return await _report(pool, user, params)
    except ReportInputError as exc:
        raise HTTPException(422, str(exc)) from exc


def csv_response(report: PlayReport) -> Response:
    disposition = f'attachment; filename="{csv_filename(report)}"'
    return Response(
        report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


def _query_string(report: PlayReport) -> str:
    q = report.query
    form = {
        "campaign_id": q.campaign_id,
        "from": q.period.start.isoformat(),
        "to": q.period.end.isoformat(),
        "group_by": q.group_by,
        "fleet": q.fleet,
    }
    return urlencode({k: v for k, v in form.items() if v})


@router.get("/reports/plays", response_class=HTMLResponse)
async def plays_page(
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    campaign_id: CampaignParam = None,
    start: FromParam = None,
    end: ToParam = None,
    group_by: GroupParam = None,
    fleet: FleetParam = None,
) -> HTMLResponse:
    fleets = await scoped_fleets(pool, login.user)
    report, error = None, None
    try:
        report = await _report(pool, login.user, (campaign_id, start, end, group_by, fleet), fleets)
    except ReportInputError as exc:
        error = str(exc)
    form = {
        "campaign_id": campaign_id or "",
        "from": start or "",
        "to": end or "",
        "group_by": group_by or "day",
        "fleet": fleet or "",
    }
    query = ""
    if report is not None:
        q = report.query
        form = {
            "campaign_id": q.campaign_id or "",
            "from": q.period.start.isoformat(),
            "to": q.period.end.isoformat(),
            "group_by": q.group_by,
            "fleet": q.fleet or "",
        }
        query = _query_string(report)
    return TEMPLATES.TemplateResponse(
        request,
        "report_plays.html",
        {
            "login": login,
            "fleets": fleets,
            "form": form,
            "report": report,
            "error": error,
            "groups": GROUPS,
            "max_days": MAX_DAYS,
            "bars": report.bars() if report else [],
            "csv_url": f"/reports/plays.csv?{query}",
            "api_url": f"{API_PATH}?{query}",
        },
        status_code=422 if error else 200,
    )


@router.get("/reports/plays.csv")
async def plays_csv(
    pool: PoolDep,
    login: FleetLogin,
    campaign_id: CampaignParam = None,
    start: FromParam = None,
    end: ToParam = None,
    group_by: GroupParam = None,
    fleet: FleetParam = None,
) -> Response:
    """The same CSV as the API's, for a signed-in panel user."""
    params = (campaign_id, start, end, group_by, fleet)
    return csv_response(await checked_report(pool, login.user, params))
