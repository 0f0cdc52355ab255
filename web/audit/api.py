"""The tenant's audit log as JSON for admins' bearer tokens, filtered like the panel's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from store.audit import AuditEntry
from web.audit.log import PAGE, page
from web.audit.pages import FilterQuery
from web.deps import ApiAdmin, PoolDep

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditOut(BaseModel):
    entries: list[AuditEntry]
    older: Annotated[int | None, Field(description="pass as `before` for the next page")]


@router.get("/audit")
async def audit_api(
    pool: PoolDep,
    user: ApiAdmin,
    wanted: FilterQuery,
    limit: Annotated[int, Query(ge=1, le=500)] = PAGE,
) -> AuditOut:
    """The tenant's audit log, newest first, filtered like the panel's page."""
    found = await page(pool, user, wanted, limit)
    return AuditOut(entries=found.entries, older=found.older)
