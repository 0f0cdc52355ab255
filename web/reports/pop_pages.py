"""Proof-of-play reports: JSON and CSV for API clients, a page and its CSV for the panel.

All four answer from :func:`web.reports.pop_report.play_report`, so the page, the CSV and the
JSON carry the same rows and the same totals. The spec's paths ``/v1/reports/...``
redirect (308, query kept) to the API's ``/api/v1/reports/...``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict

from store.users import User
from web.deps import ApiUser, FleetLogin, PoolDep
from web.http.templating import TEMPLATES
from web.reports.heatmap import Fleet, scoped_fleets
from web.reports.pop_report import (
    GROUPS,
    MAX_DAYS,
    GroupBy,
    PlayReport,
    ReportInputError,
    csv_filename,
    parse_query,
    play_report,
    report_csv,
)

router = APIRouter()

API_PATH = "/api/v1/reports/proof-of-play"
SPEC_PATH = "/v1/reports/proof-of-play"

CampaignParam = Annotated[
    str | None, Query(max_length=256, description="only this campaign (all when omitted)")
]
FromParam = Annotated[
    str | None, Query(alias="from", max_length=32, description="first UTC day (YYYY-MM-DD)")
]
ToParam = Annotated[
    str | None, Query(alias="to", max_length=32, description="last UTC day, inclusive")
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
    query = parse_query(start, end, group, campaign, fleet)
    if query.fleet is not None:
        fleets = await scoped_fleets(pool, user) if fleets is None else fleets
        if all(f.fleet_id != query.fleet for f in fleets):
            raise HTTPException(404, f"no fleet {query.fleet!r}")
    return await play_report(pool, user, query)


async def _checked(
    pool: PoolDep,
    user: User,
    params: tuple[str | None, str | None, str | None, str | None, str | None],
) -> PlayReport:
    try:
        return await _report(pool, user, params)
    except ReportInputError as exc:
        raise HTTPException(422, str(exc)) from exc


def _csv_response(report: PlayReport) -> Response:
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


@router.get("/reports/plays", response_class=HTMLResponse, include_in_schema=False)
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


@router.get("/reports/plays.csv", include_in_schema=False)
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
    return _csv_response(await _checked(pool, login.user, params))


class PlayRowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from a PlayRow
    key: str
    label: str
    campaign_id: str
    fleet_id: str | None
    fleet_name: str | None
    plays: int
    completed: int
    duration_ms: int
    duration_seconds: Decimal


class TotalsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from Totals
    plays: int
    completed: int
    duration_ms: int
    duration_seconds: Decimal


class PlayReportOut(BaseModel):
    first_day: date
    last_day: date
    group_by: GroupBy
    campaign_id: str | None
    fleet: str | None
    rows: list[PlayRowOut]
    totals: TotalsOut


ERRORS: dict[int | str, dict[str, str]] = {
    404: {"description": "no such fleet in scope"},
    422: {"description": "bad range, grouping or campaign"},
}


@router.get(API_PATH, tags=["reports"], responses=ERRORS)
@router.get(SPEC_PATH, tags=["reports"], responses=ERRORS)  # the path the device spec names
async def proof_of_play(
    pool: PoolDep,
    user: ApiUser,
    campaign_id: CampaignParam = None,
    start: FromParam = None,
    end: ToParam = None,
    group_by: GroupParam = None,
    fleet: FleetParam = None,
) -> PlayReportOut:
    """Plays, completed plays and play time per UTC day, fleet or tablet.

    From the exact daily rollup (``plays_daily``, days are the UTC date of each
    play's start). ``from``/``to`` are inclusive (default: the last 7 days, at most
    366). Each row is one group and one campaign; ``totals`` is the sum of the rows
    and equals the CSV's ``total`` line. Only plays of the caller's fleets count.
    """
    report = await _checked(pool, user, (campaign_id, start, end, group_by, fleet))
    q = report.query
    return PlayReportOut(
        first_day=q.period.start,
        last_day=q.period.end,
        group_by=q.group_by,
        campaign_id=q.campaign_id,
        fleet=q.fleet,
        rows=[PlayRowOut.model_validate(r) for r in report.rows],
        totals=TotalsOut.model_validate(report.totals),
    )


CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    200: {"content": {"text/csv": {}}, "description": "the report as CSV"},
}


@router.get(f"{API_PATH}.csv", tags=["reports"], responses=CSV_RESPONSES, response_class=Response)
@router.get(f"{SPEC_PATH}.csv", tags=["reports"], responses=CSV_RESPONSES, response_class=Response)
async def proof_of_play_csv(
    pool: PoolDep,
    user: ApiUser,
    campaign_id: CampaignParam = None,
    start: FromParam = None,
    end: ToParam = None,
    group_by: GroupParam = None,
    fleet: FleetParam = None,
) -> Response:
    """The same rows as CSV, then a ``total`` line equal to the JSON ``totals``.

    Cells that a spreadsheet would read as a formula (starting with ``=``, ``+``,
    ``-``, ``@``) are prefixed with ``'``.
    """
    params = (campaign_id, start, end, group_by, fleet)
    return _csv_response(await _checked(pool, user, params))
