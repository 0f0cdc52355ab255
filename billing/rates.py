"""Rate cards: what a tenant pays per play-second or per 1,000 completed plays (by campaign,
else the card's default), per online hour inside operating hours, and how each amount is
shared between the platform, the fleet owner and the driver.

Cards are versioned: each has a validity from one local day to another (inclusive; open
ended when ``valid_to`` is None) and no two cards of a tenant overlap. A card never changes
once made, except that an open end may be closed; a card that reaches into a closed month
cannot be made or moved there. :func:`check_card` refuses an invalid card with a message that
names the field and what would be accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal, get_args

from billing.errors import BillingError
from billing.money import ZERO

Basis = Literal["play_second", "thousand_plays"]
BASES: tuple[str, ...] = get_args(Basis)
BASIS_NAMES = {"play_second": "per play-second", "thousand_plays": "per 1,000 completed plays"}
RATE_PLACES = 6
SHARE_PLACES = 2
HUNDRED = Decimal(100)
MAX_CAMPAIGN_RATES = 200


@dataclass(frozen=True, slots=True)
class Shares:
    """Percentages of every amount: platform + fleet owner + driver = 100."""

    platform: Decimal
    owner: Decimal
    driver: Decimal


@dataclass(frozen=True, slots=True)
class CampaignRate:
    campaign_id: str
    basis: Basis
    rate: Decimal


@dataclass(frozen=True, slots=True)
class RateCard:
    version: int
    valid_from: date
    valid_to: date | None  # the last day it applies; None: until a later card
    default_basis: Basis
    default_rate: Decimal
    online_hour_rate: Decimal
    shares: Shares
    campaigns: tuple[CampaignRate, ...] = field(default=())
    note: str = ""

    def rate_for(self, campaign_id: str) -> tuple[Basis, Decimal]:
        """The campaign's own rate, else the card's default."""
        for c in self.campaigns:
            if c.campaign_id == campaign_id:
                return c.basis, c.rate
        return self.default_basis, self.default_rate

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def overlaps(self, other: RateCard) -> bool:
        far = date.max
        return self.valid_from <= (other.valid_to or far) and other.valid_from <= (
            self.valid_to or far
        )

    @property
    def validity(self) -> str:
        return f"{self.valid_from} – {self.valid_to or 'open'}"


def check_shares(shares: Shares) -> None:
    for name, value in (
        ("the platform's share", shares.platform),
        ("the fleet owner's share", shares.owner),
        ("the driver's share", shares.driver),
    ):
        if not ZERO <= value <= HUNDRED:
            raise BillingError(f"{name} must be between 0 and 100 %, not {value} %")
    total = shares.platform + shares.owner + shares.driver
    if total != HUNDRED:
        raise BillingError(
            f"the shares must add up to 100 %: platform {shares.platform} % + fleet owner "
            f"{shares.owner} % + driver {shares.driver} % = {total} %"
        )


def check_card(card: RateCard, others: Iterable[RateCard], closed_through: date | None) -> None:
    """Refuse a card that cannot be used: shares not adding up to 100 %, a negative rate, an
    end before its start, a campaign listed twice, validity overlapping another card, or days
    in a month already closed (``closed_through``: the last day of the latest closed month)."""
    check_shares(card.shares)
    for what, rate in (
        ("the default rate", card.default_rate),
        ("the rate per online hour", card.online_hour_rate),
        *((f"the rate of campaign {c.campaign_id}", c.rate) for c in card.campaigns),
    ):
        if rate < 0:
            raise BillingError(f"{what} cannot be negative")
    if card.valid_to is not None and card.valid_to < card.valid_from:
        raise BillingError(f"the card ends ({card.valid_to}) before it starts ({card.valid_from})")
    seen: set[str] = set()
    for c in card.campaigns:
        if c.campaign_id in seen:
            raise BillingError(f"campaign {c.campaign_id} has two rates: give it one")
        seen.add(c.campaign_id)
    if len(card.campaigns) > MAX_CAMPAIGN_RATES:
        raise BillingError(f"a card holds at most {MAX_CAMPAIGN_RATES} campaign rates")
    if closed_through is not None and card.valid_from <= closed_through:
        raise BillingError(
            f"the card would start on {card.valid_from}, inside a closed month (closed through"
            f" {closed_through}): start it on {closed_through + timedelta(days=1)} or later"
        )
    for other in others:
        if other.version != card.version and other.overlaps(card):
            raise BillingError(
                f"the card's validity ({card.validity}) overlaps version {other.version}"
                f" ({other.validity}): end version {other.version} first"
                + (
                    f" (its last day would be {card.valid_from - timedelta(days=1)})"
                    if other.valid_from < card.valid_from
                    else ""
                )
                + " or choose other dates"
            )


def check_end(card: RateCard, valid_to: date, closed_through: date | None) -> RateCard:
    """The card with its last day set to ``valid_to`` (only an open end, or a later one, may
    be brought forward, and never into a closed month)."""
    if valid_to < card.valid_from:
        raise BillingError(
            f"version {card.version} starts on {card.valid_from}: its last day cannot be {valid_to}"
        )
    if closed_through is not None and valid_to <= closed_through:
        raise BillingError(
            f"{valid_to} is inside a closed month (closed through {closed_through}): version"
            f" {card.version} applied there and stays as it was"
        )
    if card.valid_to is not None and valid_to > card.valid_to:
        raise BillingError(
            f"version {card.version} already ends on {card.valid_to}: a card's end only moves"
            " earlier (make a new version to extend it)"
        )
    return RateCard(
        card.version,
        card.valid_from,
        valid_to,
        card.default_basis,
        card.default_rate,
        card.online_hour_rate,
        card.shares,
        card.campaigns,
        card.note,
    )
