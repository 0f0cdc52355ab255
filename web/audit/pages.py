"""The tenant's audit log for admins: a filtered page and a CSV export.

The same entries as JSON for bearer tokens: web/audit/api.py.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from web.audit.log import AuditFilter, csv_lines, page, parse_filter
from web.deps import AdminLogin, PoolDep
from web.http.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

FilterQuery = Annotated[AuditFilter, Query()]


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, pool: PoolDep, login: AdminLogin) -> HTMLResponse:
    wanted, problems = parse_filter(request.query_params)
    found = await page(pool, login.user, wanted, zone=login.timezone)
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
            "inverted": inverted,
            "problems": problems,
        },
        status_code=422 if problems else 200,
    )


@router.get("/audit.csv")
async def audit_csv(request: Request, pool: PoolDep, login: AdminLogin) -> StreamingResponse:
    wanted, _ = parse_filter(request.query_params)  # the page said what it left out
    name = f"audit-{login.user.tenant_id}.csv"
    return StreamingResponse(
        csv_lines(pool, login.user, wanted, login.timezone),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
