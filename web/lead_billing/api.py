"""Lead invoices as JSON for bearer tokens (admins: every buyer's; an agent: their own), and
an agent's dispute of a lead they accepted."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from billing.documents import LeadInvoice, content_hash
from config.errors import ConfigError
from store import billing_settings, lead_billing
from web.deps import BearerUser, PoolDep
from web.earnings.access import month_param
from web.lead_billing import access
from web.lead_billing.agent_pages import lead_uuid

router = APIRouter(prefix="/api/v1", tags=["lead billing"])
MonthQuery = Annotated[
    str | None, Query(max_length=16, description="YYYY-MM (default: this month)")
]
MISSING: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such invoice in scope"},
    422: {"description": "bad month"},
}


class LeadLineOut(BaseModel):
    period: date
    adjustment: bool
    lead_id: str
    campaign_id: str
    lead_name: str
    accepted_at: datetime
    status: Literal["billable", "disputed", "credited"]
    price: Decimal | None
    amount: Decimal


class InvoiceOut(BaseModel):
    agent_id: int
    agent_name: str
    month: str
    currency: str
    status: Literal["open", "closed"]
    closed_at: datetime | None
    content_hash: str
    billable: int
    disputed: int
    credited: int
    total: Decimal
    lines: list[LeadLineOut]

    @classmethod
    def of(cls, i: LeadInvoice) -> InvoiceOut:
        lines = [
            LeadLineOut(
                period=x.period, adjustment=x.period != i.month, lead_id=x.lead_id,
                campaign_id=x.campaign_id, lead_name=x.lead_name, accepted_at=x.accepted_at,
                status=x.status, price=x.price, amount=x.amount,
            )
            for x in (*i.lines, *i.adjustments)
        ]  # fmt: skip
        return cls(
            agent_id=i.agent_id, agent_name=i.agent_name, month=f"{i.month:%Y-%m}",
            currency=i.currency.code, status="closed" if i.closing else "open",
            closed_at=i.closing.closed_at if i.closing else None,
            content_hash=i.closing.content_hash if i.closing else content_hash(i),
            billable=i.count("billable"), disputed=i.count("disputed"),
            credited=i.count("credited"), total=i.total, lines=lines,
        )  # fmt: skip


@router.get("/lead-invoices", responses=MISSING)
async def lead_invoices(
    pool: PoolDep, user: BearerUser, month: MonthQuery = None
) -> list[InvoiceOut]:
    """The month's lead invoices: every buyer's for an admin, the agent's own for an agent."""
    first = await month_param(pool, user, month)
    return [InvoiceOut.of(i) for i in (await access.invoices_for(pool, user, first)).invoices]


@router.get("/lead-invoices/{month}/agents/{agent_id}", responses=MISSING)
async def lead_invoice(month: str, agent_id: str, pool: PoolDep, user: BearerUser) -> InvoiceOut:
    """One buyer's invoice, every line (as its page, CSV and PDF)."""
    found, _ = await access.invoice(pool, user, month, agent_id)
    return InvoiceOut.of(found)


class DisputeIn(BaseModel):
    reason: str = Field(max_length=1000, description="why the lead is invalid (required)")


class DisputeOut(BaseModel):
    dispute_id: int


@router.post(
    "/agent/leads/{lead_id}/dispute",
    status_code=201,
    responses={404: {"description": "not a lead you accepted"}, 422: {"description": "refused"}},
)
async def dispute_lead(
    lead_id: str, pool: PoolDep, user: BearerUser, body: DisputeIn | None = None
) -> DisputeOut:
    """Dispute a lead you accepted as invalid, within the tenant's window, with a reason
    (an agent's; 404 for anyone else, as every route naming a lead)."""
    if user.role != "agent":
        raise HTTPException(404, "not a lead you accepted")
    try:
        async with pool.connection() as conn:
            settings = await billing_settings.get(conn, user.tenant_id)
            dispute_id = await lead_billing.open_dispute(
                conn, user.tenant_id, user.user_id, lead_uuid(lead_id), body.reason if body else "",
                timedelta(days=settings.dispute_days), user.email,
            )  # fmt: skip
    except LookupError:
        raise HTTPException(404, "not a lead you accepted") from None
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    return DisputeOut(dispute_id=dispute_id)
