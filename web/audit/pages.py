"""The tenant's audit log for admins: a filtered page, a CSV export and the JSON API."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from web.audit.log import PAGE, AuditEntry, AuditFilter, csv_lines, page
from web.deps import AdminLogin, ApiAdmin, PoolDep
from web.http.templating import TEMPLATES

router = APIRouter()
html = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["audit"])

FilterQuery = Annotated[AuditFilter, Query()]


@html.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request, pool: PoolDep, login: AdminLogin, wanted: FilterQuery
) -> HTMLResponse:
    found = await page(pool, login.user, wanted)
    older = None if found.older is None else "/audit?" + urlencode(wanted.query(before=found.older))
    inverted = wanted.since is not None and wanted.until is not None and wanted.since > wanted.until
    return TEMPLATES.TemplateResponse(
        request,
        "audit.html",
        {
            "login": login,
            "entries": found.entries,
            "wanted": wanted,
            "older": older,
            "newest": "/audit?" + urlencode(wanted.query(before=None)) if wanted.before else None,
            "csv": "/audit.csv?" + urlencode(wanted.query(before=None)),
            "utc": UTC,
            "inverted": inverted,
        },
    )


@html.get("/audit.csv")
async def audit_csv(pool: PoolDep, login: AdminLogin, wanted: FilterQuery) -> StreamingResponse:
    name = f"audit-{login.user.tenant_id}.csv"
    return StreamingResponse(
        csv_lines(pool, login.user, wanted),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class AuditOut(BaseModel):
    entries: list[AuditEntry]
    older: Annotated[int | None, Field(description="pass as `before` for the next page")]


@api.get("/audit")
async def audit_api(
    pool: PoolDep,
    user: ApiAdmin,
    wanted: FilterQuery,
    limit: Annotated[int, Query(ge=1, le=500)] = PAGE,
) -> AuditOut:
    """The tenant's audit log, newest first, filtered like the panel's page."""
    found = await page(pool, user, wanted, limit)
    return AuditOut(entries=found.entries, older=found.older)


router.include_router(html)
router.include_router(api)
