"""Who may open which lead invoice: admins every buyer's of the tenant, an agent their own;
other roles are refused (403), another buyer's invoice is missing (404)."""

from __future__ import annotations

from datetime import date

from fastapi import HTTPException
from psycopg_pool import AsyncConnectionPool

from billing.documents import LeadInvoice
from store import lead_billing
from store.users import User
from web.earnings.access import month_param
from web.lead_billing.compute import MonthInvoices, month_invoices


def check_role(user: User) -> None:
    if user.role not in ("admin", "agent"):
        raise HTTPException(403, "lead invoices are for admins and lead agents")


async def invoices_for(pool: AsyncConnectionPool, user: User, month: date) -> MonthInvoices:
    """The month's invoices the user sees (an agent: theirs, even when empty)."""
    check_role(user)
    async with pool.connection() as conn:
        agent = None if user.is_admin else user.user_id
        return await month_invoices(conn, user.tenant_id, month, agent)


async def invoice(
    pool: AsyncConnectionPool, user: User, month_text: str, agent_id: str
) -> tuple[LeadInvoice, MonthInvoices]:
    check_role(user)
    month = await month_param(pool, user, month_text)
    if not agent_id.isdigit() or len(agent_id) > 18:
        raise HTTPException(404, "no such invoice")
    buyer = int(agent_id)
    if not user.is_admin and buyer != user.user_id:
        raise HTTPException(404, "no such invoice")
    async with pool.connection() as conn:
        if not await lead_billing.buyers(conn, user.tenant_id, [buyer]):
            raise HTTPException(404, "no such invoice")
        found = await month_invoices(conn, user.tenant_id, month, buyer)
    if not found.invoices:
        raise HTTPException(404, "no such invoice")
    return found.invoices[0], found
