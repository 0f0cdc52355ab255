"""Who may open which statement, shared by the earnings pages and API: admins and fleet
owners their scope's statements, a driver their own; any other role is refused (403), and a
statement outside the caller's scope is missing (404)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import HTTPException
from psycopg_pool import AsyncConnectionPool

from billing.documents import Statement
from billing.errors import BillingError
from billing.months import month_at, parse_month
from store import billing_settings
from store.users import User
from web.earnings.compute import MonthStatements, month_statements, scope_of

VIEWERS = ("admin", "fleet_owner", "driver")
EARLIEST_ZONE = "Pacific/Kiritimati"  # UTC+14: where a month begins first


def check_role(user: User) -> None:
    if user.role not in VIEWERS:
        raise HTTPException(403, "statements are for admins, fleet owners and drivers")


async def this_month(pool: AsyncConnectionPool, user: User) -> date:
    """The current month in the tenant's billing zone."""
    async with pool.connection() as conn:
        settings = await billing_settings.get(conn, user.tenant_id)
    return month_at(datetime.now(UTC), settings.timezone)


async def month_param(pool: AsyncConnectionPool, user: User, text: str | None) -> date:
    """``YYYY-MM`` (default: this month in the tenant's zone); a month that has begun in no
    zone yet is refused (422)."""
    if not text:
        return await this_month(pool, user)
    try:
        month = parse_month(text)
    except BillingError as exc:
        raise HTTPException(422, str(exc)) from None
    if month > month_at(datetime.now(UTC), EARLIEST_ZONE):
        raise HTTPException(422, f"{text} has not begun yet")
    return month


async def statements_for(pool: AsyncConnectionPool, user: User, month: date) -> MonthStatements:
    check_role(user)
    async with pool.connection() as conn:
        return await month_statements(conn, await scope_of(conn, user), month, user)


async def fleet_statement(
    pool: AsyncConnectionPool, user: User, month_text: str, fleet_id: str
) -> tuple[Statement, MonthStatements]:
    month = await month_param(pool, user, month_text)
    found = await statements_for(pool, user, month)
    for s in found.fleets:
        if s.party == fleet_id:
            return s, found
    raise HTTPException(404, "no such statement")


async def driver_statement(
    pool: AsyncConnectionPool, user: User, month_text: str, driver_id: str
) -> tuple[Statement, MonthStatements]:
    month = await month_param(pool, user, month_text)
    found = await statements_for(pool, user, month)
    for s in found.drivers:
        if s.party == driver_id:
            return s, found
    raise HTTPException(404, "no such statement")
