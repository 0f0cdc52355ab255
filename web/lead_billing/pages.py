"""Lead billing for admins: each buyer's monthly invoice, the price per accepted lead of each
lead campaign, and buyers' disputes to accept (the lead is credited) or reject. An invoice's
page, CSV and PDF are also its buyer's (web/lead_billing/agent_pages.py links them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from billing.documents import LeadInvoice
from billing.errors import BillingError
from billing.money import parse_decimal
from billing.months import label, midnight, next_month, previous_month, title
from config.errors import ConfigError
from store import billing_settings, lead_billing
from web.deps import AdminLogin, Login, LoginDep, PoolDep
from web.earnings.access import month_param, this_month
from web.earnings.rate_form import parse_day
from web.http.admin_form import AdminFormDep
from web.http.sheets import Extension, download
from web.http.templating import TEMPLATES
from web.lead_billing import access, sheet
from web.manage.fields import Fields

router = APIRouter(include_in_schema=False)
MonthParam = Annotated[str | None, Query(max_length=16, description="YYYY-MM")]
DONE = {
    "price": "Price saved.",
    "accepted": "Dispute accepted: the lead is credited.",
    "rejected": "Dispute rejected: the lead stays billed.",
}


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
    tenant = login.user.tenant_id
    async with pool.connection() as conn:
        prices = await lead_billing.prices(conn, tenant)
        disputes = await lead_billing.disputes(conn, tenant)
    current = await this_month(pool, login.user)
    return TEMPLATES.TemplateResponse(
        request,
        "lead_billing.html",
        {
            "login": login,
            "here": "leads",
            "found": found,
            "month": month,
            "previous": previous_month(month),
            "next": next_month(month) if month < current else None,
            "prices": prices,
            "disputes": disputes,
            "label": label,
            "title": title,
            "today": datetime.now(UTC).date(),
            "done": DONE.get(request.query_params.get("done", "")),
            "error": error,
        },
        status_code=status,
    )


@router.get("/lead-billing", response_class=HTMLResponse)
async def lead_billing_page(
    request: Request, pool: PoolDep, login: AdminLogin, month: MonthParam = None
) -> HTMLResponse:
    return await _page(request, pool, login, month)


@router.post("/lead-billing/prices", response_class=HTMLResponse, response_model=None)
async def set_price(
    request: Request, pool: PoolDep, posted: AdminFormDep
) -> HTMLResponse | RedirectResponse:
    fields = Fields(posted.form)
    tenant = posted.user.tenant_id
    try:
        campaign_id = fields.required("campaign_id", "Campaign", 128)
        async with pool.connection() as conn:
            settings = await billing_settings.get(conn, tenant)
        price = parse_decimal(
            fields.required("price", "Price", 30), "the price", settings.currency.minor_units
        )
        day = fields.text("valid_from", "From", 20)
        start = midnight(parse_day(day, "'from'"), settings.timezone) if day else datetime.now(UTC)
        async with pool.connection() as conn:
            await lead_billing.set_price(
                conn, tenant, campaign_id, price, start, settings.timezone, posted.user.email
            )
    except LookupError:
        return await _page(request, pool, posted.login, None, 422, "no such lead campaign")
    except ConfigError as exc:
        return await _page(request, pool, posted.login, None, 422, str(exc))
    return RedirectResponse("/lead-billing?done=price", 303)


@router.post(
    "/lead-billing/disputes/{dispute_id}", response_class=HTMLResponse, response_model=None
)
async def decide(
    dispute_id: str, request: Request, pool: PoolDep, posted: AdminFormDep
) -> HTMLResponse | RedirectResponse:
    if not dispute_id.isdigit() or len(dispute_id) > 18:
        raise HTTPException(404, "no such dispute")
    async with pool.connection() as conn:
        if not await lead_billing.disputes(conn, posted.user.tenant_id, dispute_id=int(dispute_id)):
            raise HTTPException(404, "no such dispute")
    fields = Fields(posted.form)
    try:
        decision = fields.required("decision", "Decision", 10)
        if decision not in ("accept", "reject"):
            raise BillingError("the decision is accept or reject")
        async with pool.connection() as conn:
            await lead_billing.decide(
                conn, posted.user.tenant_id, int(dispute_id), decision == "accept",
                fields.text("note", "Note", 1000), posted.user.email,
            )  # fmt: skip
    except LookupError:
        raise HTTPException(404, "no such dispute") from None
    except ConfigError as exc:
        return await _page(request, pool, posted.login, None, 422, str(exc))
    done = "accepted" if decision == "accept" else "rejected"
    return RedirectResponse(f"/lead-billing?done={done}", 303)


# --- one invoice (an admin, or its buyer) ---


def _download(invoice: LeadInvoice, extension: Extension) -> Response:
    return download(sheet.sheet(invoice), sheet.filename(invoice, extension), extension)


@router.get("/lead-billing/{month}/agents/{agent_id}.csv")
async def invoice_csv(month: str, agent_id: str, pool: PoolDep, login: LoginDep) -> Response:
    return _download((await access.invoice(pool, login.user, month, agent_id))[0], "csv")


@router.get("/lead-billing/{month}/agents/{agent_id}.pdf")
async def invoice_pdf(month: str, agent_id: str, pool: PoolDep, login: LoginDep) -> Response:
    return _download((await access.invoice(pool, login.user, month, agent_id))[0], "pdf")


# After the downloads: '….csv' is the CSV, not an agent id.
@router.get("/lead-billing/{month}/agents/{agent_id}", response_class=HTMLResponse)
async def invoice_page(
    month: str, agent_id: str, request: Request, pool: PoolDep, login: LoginDep
) -> HTMLResponse:
    invoice, _ = await access.invoice(pool, login.user, month, agent_id)
    context: dict[str, Any] = {
        "login": login,
        "here": "leads",
        "invoice": invoice,
        "sheet": sheet.sheet(invoice),
        "base": f"/lead-billing/{month}/agents/{agent_id}",
        "label": label,
        "title": title,
    }
    return TEMPLATES.TemplateResponse(request, "lead_invoice.html", context)
