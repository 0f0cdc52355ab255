"""Earnings in the panel: a month's statements (admins: the tenant's; fleet owners: their
fleets' and drivers'), one statement as a page, CSV and PDF (drivers: their own), and the
admins' closing and reopening of a month.

The page, the CSV, the PDF and the API (web/earnings/api.py) of a statement all render one
:class:`~billing.documents.Statement` through :mod:`web.earnings.sheet`, so they agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from billing.documents import Statement
from billing.months import has_ended, label, next_month, previous_month, span, title
from config.errors import ConfigError
from store import billing_closes, usage
from web.deps import Login, LoginDep, PoolDep
from web.earnings import access, closing, sheet
from web.earnings.compute import MonthStatements
from web.http.admin_form import AdminFormDep
from web.http.sheets import Extension, download
from web.http.templating import TEMPLATES
from web.manage.fields import Fields

router = APIRouter(include_in_schema=False)
MonthParam = Annotated[str | None, Query(max_length=16, description="YYYY-MM")]
DONE = {
    "closed": "Month closed: its statements and lead invoices are frozen.",
    "already": "This month was closed already: nothing changed.",
    "reopened": "Month reopened: its statements are computed again until it is closed.",
}


def _render(
    request: Request, template: str, login: Login, status: int = 200, **context: Any
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, template, {"login": login, "label": label, "title": title, **context},
        status_code=status,
    )  # fmt: skip


async def _overview(
    request: Request, pool: PoolDep, login: Login, month_text: str | None, error: str | None = None
) -> HTMLResponse:
    if login.user.role == "driver":
        raise HTTPException(403, "drivers see their earnings at /driver")
    month = await access.month_param(pool, login.user, month_text)
    found = await access.statements_for(pool, login.user, month)
    current = await access.this_month(pool, login.user)
    async with pool.connection() as conn:
        fleets = await usage.fleets(conn, login.user.tenant_id, None)
        closes = await billing_closes.live(conn, login.user.tenant_id)
    zones = sorted({f.timezone for f in fleets} | {"UTC"})
    ended = has_ended(month, zones, datetime.now(UTC))
    return _render(
        request,
        "earnings.html",
        login,
        422 if error else 200,
        found=found,
        month=month,
        previous=previous_month(month),
        next=next_month(month) if month < current else None,
        ended=ended,
        ends_at=max(span(month, tz)[1] for tz in zones),
        latest_close=max(closes) if closes else None,
        done=DONE.get(request.query_params.get("done", "")),
        error=error,
    )


@router.get("/earnings", response_class=HTMLResponse)
async def overview(
    request: Request, pool: PoolDep, login: LoginDep, month: MonthParam = None
) -> HTMLResponse:
    return await _overview(request, pool, login, month)


def _statement_page(
    request: Request, login: Login, statement: Statement, found: MonthStatements, base: str
) -> HTMLResponse:
    return _render(
        request,
        "statement.html",
        login,
        statement=statement,
        sheet=sheet.sheet(statement, found.cards),
        found=found,
        base=base,
    )


def _download(statement: Statement, found: MonthStatements, extension: Extension) -> Response:
    built = sheet.sheet(statement, found.cards)
    return download(built, sheet.filename(statement, extension), extension)


@router.get("/earnings/{month}/fleets/{fleet_id}.csv")
async def fleet_csv(month: str, fleet_id: str, pool: PoolDep, login: LoginDep) -> Response:
    return _download(*await access.fleet_statement(pool, login.user, month, fleet_id), "csv")


@router.get("/earnings/{month}/fleets/{fleet_id}.pdf")
async def fleet_pdf(month: str, fleet_id: str, pool: PoolDep, login: LoginDep) -> Response:
    return _download(*await access.fleet_statement(pool, login.user, month, fleet_id), "pdf")


@router.get("/earnings/{month}/drivers/{driver_id}.csv")
async def driver_csv(month: str, driver_id: str, pool: PoolDep, login: LoginDep) -> Response:
    return _download(*await access.driver_statement(pool, login.user, month, driver_id), "csv")


@router.get("/earnings/{month}/drivers/{driver_id}.pdf")
async def driver_pdf(month: str, driver_id: str, pool: PoolDep, login: LoginDep) -> Response:
    return _download(*await access.driver_statement(pool, login.user, month, driver_id), "pdf")


# The pages after their downloads: an id never holds a dot, so '….csv' is the CSV.


@router.get("/earnings/{month}/fleets/{fleet_id}", response_class=HTMLResponse)
async def fleet_page(
    month: str, fleet_id: str, request: Request, pool: PoolDep, login: LoginDep
) -> HTMLResponse:
    statement, found = await access.fleet_statement(pool, login.user, month, fleet_id)
    return _statement_page(request, login, statement, found, f"/earnings/{month}/fleets/{fleet_id}")


@router.get("/earnings/{month}/drivers/{driver_id}", response_class=HTMLResponse)
async def driver_page(
    month: str, driver_id: str, request: Request, pool: PoolDep, login: LoginDep
) -> HTMLResponse:
    statement, found = await access.driver_statement(pool, login.user, month, driver_id)
    base = f"/earnings/{month}/drivers/{driver_id}"
    return _statement_page(request, login, statement, found, base)


@router.post("/earnings/{month}/close", response_class=HTMLResponse, response_model=None)
async def close(
    month: str, request: Request, pool: PoolDep, posted: AdminFormDep
) -> HTMLResponse | RedirectResponse:
    first = await access.month_param(pool, posted.user, month)
    try:
        async with pool.connection() as conn:
            done = await closing.close_month(conn, posted.user, first, datetime.now(UTC))
    except ConfigError as exc:
        return await _overview(request, pool, posted.login, month, str(exc))
    outcome = "closed" if done.created else "already"
    return RedirectResponse(f"/earnings?month={label(first)}&done={outcome}", 303)


@router.post("/earnings/{month}/reopen", response_class=HTMLResponse, response_model=None)
async def reopen(
    month: str, request: Request, pool: PoolDep, posted: AdminFormDep
) -> HTMLResponse | RedirectResponse:
    first = await access.month_param(pool, posted.user, month)
    try:
        reason = Fields(posted.form).text("reason", "Reason", 500)
        async with pool.connection() as conn:
            await closing.reopen_month(conn, posted.user, first, reason)
    except ConfigError as exc:
        return await _overview(request, pool, posted.login, month, str(exc))
    return RedirectResponse(f"/earnings?month={label(first)}&done=reopened", 303)
