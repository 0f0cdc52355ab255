"""Lead invoice lines: each lead a buyer (an agent) accepted in the month, at its campaign's
price when it was accepted.

A lead is ``billable``; ``disputed`` while the buyer's dispute waits for an admin (still
billed); ``credited`` once an admin accepted the dispute (amount zero). A dispute accepted
after the month was closed credits the lead in the first open month (an adjustment).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from billing.money import ZERO

LeadStatus = Literal["billable", "disputed", "credited"]


@dataclass(frozen=True, slots=True)
class LeadLine:
    period: date  # the month the lead was accepted in
    lead_id: str
    campaign_id: str
    lead_name: str
    accepted_at: datetime
    status: LeadStatus
    price: Decimal | None  # None: the campaign had no price then
    amount: Decimal

    @property
    def key(self) -> tuple[date, str]:
        return self.period, self.lead_id

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    def minus(self, other: LeadLine) -> LeadLine:
        return replace(self, amount=self.amount - other.amount)

    def plus(self, other: LeadLine) -> LeadLine:
        return replace(self, amount=self.amount + other.amount)


def lead_line(
    period: date,
    lead_id: str,
    campaign_id: str,
    lead_name: str,
    accepted_at: datetime,
    price: Decimal | None,
    dispute: str | None,
) -> LeadLine:
    """``dispute``: None (none), ``open``, ``accepted`` (credited) or ``rejected`` (billed)."""
    status: LeadStatus = (
        "credited" if dispute == "accepted" else "disputed" if dispute == "open" else "billable"
    )
    amount = ZERO if status == "credited" or price is None else price
    return LeadLine(period, lead_id, campaign_id, lead_name, accepted_at, status, price, amount)
