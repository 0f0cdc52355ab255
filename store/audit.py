"""The audit log: who did what to which target, per tenant; written and read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from store.scope import scope_params

if TYPE_CHECKING:  # store.users records through this module
    from store.users import User

INSERT = (
    "INSERT INTO audit_log (tenant_id, actor, action, target, details) VALUES (%s, %s, %s, %s, %s)"
)


async def record(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    tenant_id: str,
    actor: str,
    action: str,
    target: str | None,
    details: dict[str, Any],
) -> None:
    await conn.execute(INSERT, (tenant_id, actor, action, target, Jsonb(details)))


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


async def entries(
    pool: AsyncConnectionPool,
    user: User,
    *,
    actor: str | None,
    action: str | None,
    target: str | None,
    since: datetime | None,
    until: datetime | None,
    before: int | None,
    limit: int,
) -> list[AuditEntry]:
    """The user's tenant's entries, newest first; ``actor`` and ``target`` are ILIKE patterns,
    ``action`` a LIKE pattern, ``until`` excluded, ``before`` an ``audit_id`` cursor."""
    params = scope_params(
        user,
        actor=actor,
        action=action,
        target=target,
        since=since,
        until=until,
        before=before,
        limit=limit,
    )
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(AuditEntry)) as cur:
        await cur.execute(SELECT, params)
        return await cur.fetchall()
