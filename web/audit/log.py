"""Reading a tenant's audit log: filtered, newest first, paged by ``audit_id``."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from store import audit
from store.audit import AuditEntry
from store.users import User

PAGE = 100
CSV_PAGE = 1000
CSV_COLUMNS = ("audit_id", "at", "actor", "action", "target", "details")


FIELDS = ("actor", "action", "target", "since", "until", "before")
LABELS = {"since": "from", "until": "to", "before": "older than"}


class AuditFilter(BaseModel):
    """What to show: all optional (an empty value is no filter); dates are days in the
    reader's zone (UTC for the API), ``until`` included."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    actor: Annotated[str | None, Field(max_length=254, description="part of the actor")] = None
    action: Annotated[str | None, Field(max_length=64, description="action prefix")] = None
    target: Annotated[str | None, Field(max_length=128, description="part of the target")] = None
    since: Annotated[date | None, Field(description="from this UTC day")] = None
    until: Annotated[date | None, Field(description="to this UTC day, included")] = None
    before: Annotated[int | None, Field(ge=1, description="older than this audit_id")] = None

    @model_validator(mode="before")
    @classmethod
    def _empty_is_no_filter(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    async def read(
        self, pool: AsyncConnectionPool, user: User, limit: int, zone: str = "UTC"
    ) -> list[AuditEntry]:
        """Up to ``limit`` matching entries of the user's tenant, newest first (``since`` and
        ``until`` are days in ``zone``)."""
        tz = ZoneInfo(zone)
        since = datetime.combine(self.since, time(), tz) if self.since else None
        until = datetime.combine(self.until + timedelta(days=1), time(), tz) if self.until else None
        return await audit.entries(
            pool,
            user,
            actor=_contains(self.actor),
            action=_prefix(self.action),
            target=_contains(self.target),
            since=since,
            until=until,
            before=self.before,
            limit=limit,
        )

    def query(self, **changes: Any) -> dict[str, str]:
        """These filters as URL query parameters (empty ones left out)."""
        values = {**self.model_dump(), **changes}
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


def parse_filter(raw: Mapping[str, str]) -> tuple[AuditFilter, list[str]]:
    """The filter a page's query asks for; a value that cannot be used is left out, with a
    message saying why (the page shows the rest)."""
    values = {k: v for k in FIELDS if (v := raw.get(k, "").strip())}
    try:
        return AuditFilter.model_validate(values), []
    except ValidationError as exc:
        errors = [(str(e["loc"][0]), e) for e in exc.errors() if e["loc"]]
        problems = [
            f"“{LABELS.get(name, name)}” {values.get(name, '')[:40]!r}: "
            + ("use a date like 2024-05-31" if "date" in e["type"] else str(e["msg"]).lower())
            + " (left out)."
            for name, e in errors
        ]
        bad = {name for name, _ in errors}
        kept = {k: v for k, v in values.items() if k not in bad}
        return AuditFilter.model_validate(kept), problems


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    older: int | None  # the ``before`` cursor of the next (older) page


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(text: str | None) -> str | None:
    return f"%{_escape(text)}%" if text else None


def _prefix(text: str | None) -> str | None:
    return f"{_escape(text)}%" if text else None


async def page(
    pool: AsyncConnectionPool, user: User, wanted: AuditFilter, limit: int = PAGE, zone: str = "UTC"
) -> AuditPage:
    """One page of the user's tenant's audit log, newest first."""
    rows = await wanted.read(pool, user, limit + 1, zone)
    entries = rows[:limit]
    return AuditPage(entries, entries[-1].audit_id if len(rows) > limit else None)


async def csv_lines(
    pool: AsyncConnectionPool, user: User, wanted: AuditFilter, zone: str = "UTC"
) -> AsyncIterator[str]:
    """Every matching entry as CSV, read a page at a time (no connection held between pages)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    cursor = wanted
    while True:
        found = await page(pool, user, cursor, CSV_PAGE, zone)
        for e in found.entries:
            writer.writerow(
                [
                    e.audit_id,
                    e.at.astimezone(UTC).isoformat(),
                    _cell(e.actor),
                    _cell(e.action),
                    _cell(e.target or ""),
                    _cell(e.compact),
                ]
            )
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if found.older is None:
            return
        cursor = wanted.model_copy(update={"before": found.older})


def _cell(text: str) -> str:
    """Keep spreadsheets from reading a cell as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
