"""Reading a tenant's audit log: filtered, newest first, paged by ``audit_id``."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from store import audit
from store.audit import AuditEntry
from store.users import User

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

    async def read(self, pool: AsyncConnectionPool, user: User, limit: int) -> list[AuditEntry]:
        """Up to ``limit`` matching entries of the user's tenant, newest first."""
        since = datetime.combine(self.since, time(), UTC) if self.since else None
        until = (
            datetime.combine(self.until + timedelta(days=1), time(), UTC) if self.until else None
        )
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
    pool: AsyncConnectionPool, user: User, wanted: AuditFilter, limit: int = PAGE
) -> AuditPage:
    """One page of the user's tenant's audit log, newest first."""
    rows = await wanted.read(pool, user, limit + 1)
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
