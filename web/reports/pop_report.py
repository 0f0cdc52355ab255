"""Proof-of-play report: plays, completed plays and play time per day, fleet or tablet.

One query over the exact daily rollup ``plays_daily`` (each fleet's local days of
``started_at``),
scoped through ``fleets f`` like every panel query: a play counts for the tenant
and fleet it was stored under. Without a campaign filter each row is one group
and one campaign. The totals are the sums of the rows (integers, added exactly),
so the JSON, the CSV and the page always agree.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import get_args

from psycopg_pool import AsyncConnectionPool

from store import play_reports
from store.play_reports import GroupBy, PlayRow
from store.users import User

GROUPS: tuple[str, ...] = get_args(GroupBy)
DEFAULT_DAYS = 7
MAX_DAYS = 366
MAX_CAMPAIGN = 128
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class ReportInputError(ValueError):
    """A range, grouping or filter that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True, slots=True)
class Query:
    period: Period
    group_by: GroupBy
    campaign_id: str | None
    fleet: str | None


def today_utc() -> date:
    return datetime.now(UTC).date()


def _parse_day(text: str, name: str) -> date:
    text = text.strip()
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ReportInputError(f"'{name}' must be a date like 2024-05-31, not {text[:20]!r}")


def parse_period(start: str | None, end: str | None, today: date) -> Period:
    """``from``/``to`` as local days, both inclusive; the last :data:`DEFAULT_DAYS` (ending on
    ``today``, the fleets' local today) by default."""
    last = _parse_day(end, "to") if end and end.strip() else today
    first = (
        _parse_day(start, "from")
        if start and start.strip()
        else last - timedelta(days=DEFAULT_DAYS - 1)
    )
    if last < first:
        raise ReportInputError(f"'to' ({last}) is before 'from' ({first})")
    period = Period(first, last)
    if period.days > MAX_DAYS:
        raise ReportInputError(f"the range has {period.days} days: at most {MAX_DAYS} are allowed")
    return period


def parse_group(text: str | None) -> GroupBy:
    value = (text or "day").strip()
    for group in get_args(GroupBy):
        if value == group:
            return group  # type: ignore[no-any-return]  # get_args loses the Literal
    raise ReportInputError(f"group_by must be one of {', '.join(GROUPS)}, not {value[:20]!r}")


def parse_campaign(text: str | None) -> str | None:
    value = (text or "").strip()
    if len(value) > MAX_CAMPAIGN:
        raise ReportInputError(f"campaign_id is longer than {MAX_CAMPAIGN} characters")
    return value or None


def parse_query(
    start: str | None,
    end: str | None,
    group: str | None,
    campaign: str | None,
    fleet: str | None,
    today: date | None = None,
) -> Query:
    return Query(
        parse_period(start, end, today or today_utc()),
        parse_group(group),
        parse_campaign(campaign),
        (fleet or "").strip() or None,
    )


@dataclass(frozen=True, slots=True)
class Totals:
    plays: int
    completed: int
    duration_ms: int

    @property
    def duration_seconds(self) -> Decimal:
        return Decimal(self.duration_ms) / 1000

    @classmethod
    def of(cls, rows: Iterable[PlayRow]) -> Totals:
        plays = completed = duration = 0
        for row in rows:
            plays += row.plays
            completed += row.completed
            duration += row.duration_ms
        return cls(plays, completed, duration)


@dataclass(frozen=True, slots=True)
class PlayReport:
    query: Query
    rows: list[PlayRow]
    totals: Totals

    def bars(self) -> list[Bar]:
        """Plays per group for the chart (campaigns of one group added together)."""
        plays: dict[str, int] = {}
        labels: dict[str, str] = {}
        for r in self.rows:
            plays[r.key] = plays.get(r.key, 0) + r.plays
            labels.setdefault(r.key, r.label)
        return [Bar(key, labels[key], n) for key, n in plays.items()]


@dataclass(frozen=True, slots=True)
class Bar:
    key: str
    label: str
    plays: int


async def play_report(pool: AsyncConnectionPool, user: User, query: Query) -> PlayReport:
    """The report for ``query`` within the user's scope (one query over ``plays_daily``)."""
    rows = await play_reports.rows(
        pool,
        user,
        query.group_by,
        first=query.period.start,
        last=query.period.end,
        campaign=query.campaign_id,
        fleet=query.fleet,
    )
    return PlayReport(query, rows, Totals.of(rows))


CSV_COLUMNS = (
    "group_by",
    "key",
    "label",
    "campaign_id",
    "fleet_id",
    "fleet_name",
    "plays",
    "completed",
    "duration_ms",
    "duration_seconds",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a ``'``."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def report_csv(report: PlayReport) -> str:
    """Header, one line per row, then the ``total`` line (its sums are the rows' sums)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    group = report.query.group_by
    for r in report.rows:
        writer.writerow(
            cell(v)
            for v in (
                group,
                r.key,
                r.label,
                r.campaign_id,
                r.fleet_id,
                r.fleet_name,
                r.plays,
                r.completed,
                r.duration_ms,
                r.duration_seconds,
            )
        )
    t = report.totals
    writer.writerow(
        cell(v)
        for v in (
            "total",
            "total",
            "Total",
            report.query.campaign_id,
            report.query.fleet,
            None,
            t.plays,
            t.completed,
            t.duration_ms,
            t.duration_seconds,
        )
    )
    return out.getvalue()


def csv_filename(report: PlayReport) -> str:
    q = report.query
    return f"proof-of-play-{q.period.start}-{q.period.end}-by-{q.group_by}.csv"
