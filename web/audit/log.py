"""Reading a tenant's audit log: filtered, newest first, paged by ``audit_id``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from store.users import User
from web.scope import scope_params

PAGE = 100
CSV_PAGE = 1000
CSV_COLUMNS = ("audit_id", "at", "actor", "action", "target", "details")


class AuditFilter(BaseModel):
    """What to show: all optional; dates are UTC days, ``until`` included."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    actor: Annotated[str | None, Field(max_length=254, description="part of the actor")] = None
    action: Annotated[str | None, Field(max_length=64, description="action prefix")] = None
    target: Annotated[str | None, Field(max_length=128, description="part of the target")] = None
    since: Annotated[date | None, Field(description="from this UTC day")] = None
    until: Annotated[date | None, Field(description="to this UTC day, included")] = None
    before: Annotated[int | None, Field(ge=1, description="older than this audit_id")] = None

    def params(self, user: User, limit: int) -> dict[str, Any]:
        since = datetime.combine(self.since, time(), UTC) if self.since else None
        until = (
            datetime.combine(self.until + timedelta(days=1), time(), UTC) if self.until else None
        )
        return scope_params(
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


@dataclass(frozen=True, slots=True)
class AuditEntry:
    audit_id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]

    @property
    def compact(self) -> str:
        return json.dumps(
            self.details, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str
        )


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    older: int | None  # the ``before`` cursor of the next (older) page


SELECT = """
SELECT audit_id, at, actor, action, target, details FROM audit_log
WHERE tenant_id = %(tenant)s
  AND (%(actor)s::text IS NULL OR actor ILIKE %(actor)s)
  AND (%(action)s::text IS NULL OR action LIKE %(action)s)
  AND (%(target)s::text IS NULL OR target ILIKE %(target)s)
  AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR at < %(until)s)
  AND (%(before)s::bigint IS NULL OR audit_id < %(before)s)
ORDER BY audit_id DESC
LIMIT %(limit)s
"""


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(text: str | None) -> str | None:
    return f"%{_escape(text)}%" if text else None


def _prefix(text: str | None) -> str | None:
    return f"{_escape(text)}%" if text else None


async def page(
    pool: AsyncConnectionPool, user: User, wanted: AuditFilter, limit: int = PAGE
) -> AuditPage:
    """One page of the user's tenant's audit log, newest first."""
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(AuditEntry)) as cur:
        await cur.execute(SELECT, wanted.params(user, limit + 1))
        rows = await cur.fetchall()
    entries = rows[:limit]
    return AuditPage(entries, entries[-1].audit_id if len(rows) > limit else None)


async def csv_lines(
    pool: AsyncConnectionPool, user: User, wanted: AuditFilter
) -> AsyncIterator[str]:
    """Every matching entry as CSV, read a page at a time (no connection held between pages)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    cursor = wanted
    while True:
        found = await page(pool, user, cursor, CSV_PAGE)
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
