"""A lead agent's invoices: the month's leads they accepted (billable, disputed, credited),
the adjustments it carries, CSV and PDF (web/lead_billing/pages.py serves them), and a
dispute of a lead within the tenant's window, with a reason an admin decides on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from billing.months import label, next_month, parse_month, previous_month, title
from config.errors import ConfigError
from store import billing_settings, lead_billing
from web.deps import AgentLogin, FormLogin, Login, PoolDep
from web.earnings.access import month_param, this_month
from web.http.templating import TEMPLATES
from web.lead_billing import access, sheet
from web.manage.fields import Fields

router = APIRouter(include_in_schema=False)
MonthParam = Annotated[str | None, Query(max_length=16, description="YYYY-MM")]


async def _page(
    request: Request,
    pool: PoolDep,
    login: Login,
    month_text: str | None,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    month = await month_param(pool, login.user, month_text)
    found = await access.invoices_for(pool, login.user, month)
    async with pool.connection() as conn:
        settings = await billing_settings.get(conn, login.user.tenant_id)
        disputes = await lead_billing.disputes(conn, login.user.tenant_id, login.user.user_id)
    invoice = found.invoices[0] if found.invoices else None
    disputed = {str(d.lead_id) for d in disputes}
    window = timedelta(days=settings.dispute_days)
    now = datetime.now(UTC)
    open_for = {
        x.lead_id
        for x in (invoice.lines if invoice else ())
        if x.lead_id not in disputed and now <= x.accepted_at + window
    }
    current = await this_month(pool, login.user)
    return TEMPLATES.TemplateResponse(
        request,
        "agent_invoices.html",
        {
            "login": login,
            "invoice": invoice,
            "sheet": sheet.sheet(invoice) if invoice else None,
            "month": month,
            "previous": previous_month(month),
            "next": next_month(month) if month < current else None,
            "disputes": disputes,
            "open_for": open_for,
            "dispute_days": settings.dispute_days,
            "label": label,
            "title": title,
            "done": "Dispute sent: an admin decides it."
            if request.query_params.get("done")
            else None,
            "error": error,
        },
        status_code=status,
    )


@router.get("/agent/invoices", response_class=HTMLResponse)
async def invoices_page(
    request: Request, pool: PoolDep, login: AgentLogin, month: MonthParam = None
) -> HTMLResponse:
    return await _page(request, pool, login, month)


def lead_uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise HTTPException(404, "no such lead") from None


@router.post("/agent/leads/{lead_id}/dispute", response_class=HTMLResponse, response_model=None)
async def dispute(
    lead_id: str, request: Request, pool: PoolDep, login: FormLogin
) -> HTMLResponse | RedirectResponse:
    """Any signed-in user may post; it is 404 unless the lead is an agent's own (as the
    inbox's routes naming a lead, web/agents/inbox.py)."""
    if login.user.role != "agent":
        raise HTTPException(404, "no such lead")
    fields = Fields(await request.form())
    month = fields.text("month", "Month", 16) or None
    try:
        reason = fields.text("reason", "Reason", 1000)
        async with pool.connection() as conn:
            settings = await billing_settings.get(conn, login.user.tenant_id)
            await lead_billing.open_dispute(
                conn, login.user.tenant_id, login.user.user_id, lead_uuid(lead_id), reason,
                timedelta(days=settings.dispute_days), login.user.email,
            )  # fmt: skip
    except LookupError:
        raise HTTPException(404, "no such lead") from None
    except ConfigError as exc:
        return await _page(request, pool, login, month, 422, str(exc))
    try:
        back = f"&month={label(parse_month(month))}" if month else ""
    except ConfigError:
        back = ""
    target = "/agent/invoices?done=disputed" + back
    return RedirectResponse(target, 303)
