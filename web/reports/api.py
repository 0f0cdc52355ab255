"""The reports as JSON (and proof of play as CSV) for bearer tokens.

Uptime heatmaps, the uptime report and proof of play: each answers from the same
computation as its panel page (web/reports/heatmap_pages.py, uptime_pages.py and
pop_pages.py), so the page, its CSV and the API carry the same rows and totals. Proof of
play also answers at the device spec's paths ``/v1/reports/proof-of-play[.csv]``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from store.play_reports import GroupBy
from web.deps import ApiUser, PoolDep
from web.reports import heatmap_pages, pop_pages, uptime_pages, uptime_report
from web.reports.heatmap import Heatmap, Kind, heatmap, known_zone
from web.reports.uptime_report import UptimeRow

router = APIRouter()

SPEC_PATH = "/v1/reports/proof-of-play"


@router.get(
    "/api/v1/heatmap/{kind}",
    tags=["uptime"],
    responses={404: {"description": "no such fleet in scope"}, 422: {"description": "bad zone"}},
)
async def heatmap_api(
    kind: Kind,
    pool: PoolDep,
    user: ApiUser,
    fleet: heatmap_pages.FleetParam = None,
    q: heatmap_pages.SearchParam = None,
    tz: heatmap_pages.ZoneParam = None,
    page: heatmap_pages.PageParam = 1,
) -> Heatmap:
    """Percent online per tablet and hour (last 24 h) or local day (last 30 days).

    A cell is ``null`` where the tablet was not observed (before registration).
    Columns are labelled in ``tz`` (default: the fleet's zone, else UTC).
    """
    fleets = await heatmap_pages.fleets_or_404(pool, user, fleet or None)
    if tz and not known_zone(tz):
        raise HTTPException(422, f"unknown time zone {tz!r}: use an IANA name like Asia/Singapore")
    zone = heatmap_pages.column_zone(fleets, fleet or None, tz or None)
    return await heatmap(
        pool,
        user,
        kind,
        timezone=zone,
        fleets_in_scope=fleets,
        fleet=fleet or None,
        q=q or None,
        page=page,
    )


# --- uptime report ---


class UptimeRowOut(BaseModel):
    key: str
    label: str
    fleet_id: str | None
    fleet_name: str | None
    tablets: int
    hours_observed: Decimal
    percent_online: Decimal | None
    percent_online_operating: Decimal | None
    online_seconds: Decimal
    observed_seconds: Decimal
    operating_online_seconds: Decimal
    operating_seconds: Decimal

    @classmethod
    def of(cls, row: UptimeRow) -> UptimeRowOut:
        return cls(
            key=row.key,
            label=row.label,
            fleet_id=row.fleet_id,
            fleet_name=row.fleet_name,
            tablets=row.tablets,
            hours_observed=row.hours_observed,
            percent_online=row.percent_online,
            percent_online_operating=row.percent_operating,
            online_seconds=row.online_seconds,
            observed_seconds=row.observed_seconds,
            operating_online_seconds=row.operating_online_seconds,
            operating_seconds=row.operating_seconds,
        )


class UptimeReportOut(BaseModel):
    first_day: date
    last_day: date
    group_by: uptime_report.GroupBy
    fleet: str | None
    rows: list[UptimeRowOut]
    total: UptimeRowOut


@router.get(
    "/api/v1/reports/uptime",
    tags=["uptime"],
    responses={404: {"description": "no such fleet in scope"}, 422: {"description": "bad range"}},
)
async def uptime_api(
    pool: PoolDep,
    user: ApiUser,
    start: uptime_pages.FromParam = None,
    end: uptime_pages.ToParam = None,
    group: uptime_pages.GroupParam = None,
    fleet: uptime_pages.FleetParam = None,
) -> UptimeReportOut:
    """Percent online per fleet, car or tablet over whole days (each fleet's local days).

    The same rows and total as the panel's page and CSV. Seconds are exact
    decimals (rounded to the millisecond per tablet); percent = Σ online ÷ Σ
    observed seconds, and within operating hours Σ online inside operating
    windows ÷ Σ operating seconds (a fleet without hours is always operating).
    Default range: the last 7 days; at most 92 days.
    """
    report = await uptime_pages.checked_report(pool, user, start, end, group, fleet)
    return UptimeReportOut(
        first_day=report.period.start,
        last_day=report.period.end,
        group_by=report.group_by,
        fleet=report.fleet,
        rows=[UptimeRowOut.of(r) for r in report.rows],
        total=UptimeRowOut.of(report.total),
    )


# --- proof of play ---


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


@router.get(pop_pages.API_PATH, tags=["reports"], responses=ERRORS)
@router.get(SPEC_PATH, tags=["reports"], responses=ERRORS)  # the path the device spec names
async def proof_of_play(
    pool: PoolDep,
    user: ApiUser,
    campaign_id: pop_pages.CampaignParam = None,
    start: pop_pages.FromParam = None,
    end: pop_pages.ToParam = None,
    group_by: pop_pages.GroupParam = None,
    fleet: pop_pages.FleetParam = None,
) -> PlayReportOut:
    """Plays, completed plays and play time per UTC day, fleet or tablet.

    From the exact daily rollup (``plays_daily``, days are the UTC date of each
    play's start). ``from``/``to`` are inclusive (default: the last 7 days, at most
    366). Each row is one group and one campaign; ``totals`` is the sum of the rows
    and equals the CSV's ``total`` line. Only plays of the caller's fleets count.
    """
    report = await pop_pages.checked_report(pool, user, (campaign_id, start, end, group_by, fleet))
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


@router.get(
    f"{pop_pages.API_PATH}.csv", tags=["reports"], responses=CSV_RESPONSES, response_class=Response
)
@router.get(f"{SPEC_PATH}.csv", tags=["reports"], responses=CSV_RESPONSES, response_class=Response)
async def proof_of_play_csv(
    pool: PoolDep,
    user: ApiUser,
    campaign_id: pop_pages.CampaignParam = None,
    start: pop_pages.FromParam = None,
    end: pop_pages.ToParam = None,
    group_by: pop_pages.GroupParam = None,
    fleet: pop_pages.FleetParam = None,
) -> Response:
    """The same rows as CSV, then a ``total`` line equal to the JSON ``totals``.

    Cells that a spreadsheet would read as a formula (starting with ``=``, ``+``,
    ``-``, ``@``) are prefixed with ``'``.
    """
    params = (campaign_id, start, end, group_by, fleet)
    return pop_pages.csv_response(await pop_pages.checked_report(pool, user, params))
