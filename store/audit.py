"""The audit log: who did what to which target, per tenant."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

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
