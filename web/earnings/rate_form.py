"""A rate card as typed in the panel's form or sent to the API, read into
:class:`~billing.rates.RateCard`; every problem is a :class:`BillingError` naming the field."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from billing.errors import BillingError
from billing.money import parse_decimal
from billing.rates import BASES, RATE_PLACES, SHARE_PLACES, CampaignRate, RateCard, Shares

CAMPAIGN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
HUNDRED = Decimal(100)


def parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BillingError(
            f"{what} must be a date like 2026-03-01, not {text.strip()[:20]!r}"
        ) from None


def parse_basis(text: str, what: str) -> str:
    if text not in BASES:
        raise BillingError(
            f"{what} is per play-second (play_second) or per 1,000 completed plays (thousand_plays)"
        )
    return text


def parse_card(
    valid_from: str,
    valid_to: str,
    default_basis: str,
    default_rate: str,
    online_hour_rate: str,
    shares: tuple[str, str, str],
    campaigns: list[tuple[str, str, str]],
    note: str = "",
) -> RateCard:
    """The card (version 0: the store numbers it); campaign rows that are all blank are
    skipped."""
    start = parse_day(valid_from, "'valid from'")
    end = parse_day(valid_to, "'valid to'") if valid_to.strip() else None
    rates = []
    for campaign_id, basis, rate in campaigns:
        campaign_id = campaign_id.strip()
        if not campaign_id and not rate.strip():
            continue
        if not CAMPAIGN.match(campaign_id):
            raise BillingError(
                f"campaign id {campaign_id[:40]!r}: letters, digits, '.', '_', ':' or '-'"
                " (at most 128)"
            )
        rates.append(
            CampaignRate(
                campaign_id,
                parse_basis(basis, f"the basis of campaign {campaign_id}"),  # type: ignore[arg-type]
                parse_decimal(rate, f"the rate of campaign {campaign_id}", RATE_PLACES),
            )
        )
    platform, owner, driver = (
        parse_decimal(text, f"the {who}'s share", SHARE_PLACES, maximum=HUNDRED)
        for text, who in zip(shares, ("platform", "fleet owner", "driver"), strict=True)
    )
    if len(note) > 500:
        raise BillingError("the note has at most 500 characters")
    return RateCard(
        0,
        start,
        end,
        parse_basis(default_basis, "the default basis"),  # type: ignore[arg-type]
        parse_decimal(default_rate, "the default rate", RATE_PLACES),
        parse_decimal(online_hour_rate, "the rate per online hour", RATE_PLACES),
        Shares(platform, owner, driver),
        tuple(rates),
        note.strip(),
    )
