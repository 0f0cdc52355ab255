"""Statement lines: one tablet-month's usage, grouped by car, driver, campaign and rate card,
priced and shared.

A line's key is (period, fleet, car, driver, kind, campaign, card version): ``kind`` is
``plays`` (one campaign's plays) or ``online`` (online hours inside operating hours). The
card gives the basis and the rate; the gross amount is quantity × rate rounded once
(:mod:`billing.money`), and it is shared so that the three parts always add up to it:

- driver   = round(gross × driver %)
- owner    = round(gross × (owner % + driver %)) − driver
- platform = gross − owner − driver

A line with no driver assigned pays the driver's share to the fleet owner (driver = 0). A
line on days no rate card covers has no rate and amounts of zero: the statement says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Literal

from billing.money import MILLI, ZERO, Currency, seconds, to_milli
from billing.rates import HUNDRED, Basis, RateCard

Kind = Literal["plays", "online"]
THOUSAND = Decimal(1000)
HOUR = Decimal(3600)
QUANTITY = Decimal("0.000001")  # online hours are shown to six decimals (the amount uses ms)


@dataclass(frozen=True, slots=True, order=True)
class LineKey:
    period: date  # the month the usage happened in
    fleet_id: str
    car_id: str  # "" when the tablet was in no car
    driver_id: int  # 0 when no driver was assigned
    kind: Kind
    campaign_id: str  # "" for online hours
    rate_version: int  # 0 when no rate card covered the days


@dataclass(frozen=True, slots=True)
class Usage:
    """What the store summed for one key: plays, completed plays, play time and online
    seconds inside operating hours (exact; rounded to the millisecond here)."""

    key: LineKey
    plays: int = 0
    completed: int = 0
    play_ms: int = 0
    online_s: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Line:
    key: LineKey
    plays: int
    completed: int
    play_ms: int
    online_s: Decimal
    basis: Basis | Literal["online_hour", ""]
    rate: Decimal
    # The billed units: play-seconds, thousands of completed plays or online hours.
    quantity: Decimal
    gross: Decimal
    platform: Decimal
    owner: Decimal
    driver: Decimal

    @property
    def play_seconds(self) -> Decimal:
        return seconds(self.play_ms)

    @property
    def online_hours(self) -> Decimal:
        return self.online_s / HOUR

    @property
    def is_zero(self) -> bool:
        return not any(
            (self.plays, self.completed, self.play_ms, self.online_s, self.gross, self.owner)
        ) and not any((self.platform, self.driver))

    def minus(self, other: Line) -> Line:
        """What this line adds to ``other`` (an adjustment: live minus already billed)."""
        return replace(
            self,
            plays=self.plays - other.plays,
            completed=self.completed - other.completed,
            play_ms=self.play_ms - other.play_ms,
            online_s=self.online_s - other.online_s,
            quantity=self.quantity - other.quantity,
            gross=self.gross - other.gross,
            platform=self.platform - other.platform,
            owner=self.owner - other.owner,
            driver=self.driver - other.driver,
        )

    def plus(self, other: Line) -> Line:
        return replace(
            self,
            plays=self.plays + other.plays,
            completed=self.completed + other.completed,
            play_ms=self.play_ms + other.play_ms,
            online_s=self.online_s + other.online_s,
            quantity=self.quantity + other.quantity,
            gross=self.gross + other.gross,
            platform=self.platform + other.platform,
            owner=self.owner + other.owner,
            driver=self.driver + other.driver,
        )


def quantity(basis: str, usage: Usage) -> Decimal:
    if basis == "play_second":
        return seconds(usage.play_ms)
    if basis == "thousand_plays":
        return Decimal(usage.completed) / THOUSAND
    if basis == "online_hour":
        return (usage.online_s / HOUR).quantize(QUANTITY)
    return ZERO


def gross_amount(basis: str, rate: Decimal, usage: Usage, currency: Currency) -> Decimal:
    """quantity × rate, rounded once; computed from the exact units (milliseconds, plays,
    online milliseconds) so no intermediate rounding creeps in."""
    if basis == "play_second":
        exact = Decimal(usage.play_ms) * rate / THOUSAND
    elif basis == "thousand_plays":
        exact = Decimal(usage.completed) * rate / THOUSAND
    elif basis == "online_hour":
        exact = usage.online_s * rate / HOUR
    else:
        exact = ZERO
    return currency.round(exact)


def split(
    gross: Decimal, card: RateCard, has_driver: bool, currency: Currency
) -> tuple[Decimal, Decimal, Decimal]:
    """(platform, owner, driver) of ``gross``: each rounded, together exactly ``gross``."""
    s = card.shares
    driver = currency.round(gross * s.driver / HUNDRED) if has_driver else ZERO
    owner = currency.round(gross * (s.owner + s.driver) / HUNDRED) - driver
    return gross - owner - driver, owner, driver


def price(usage: Usage, card: RateCard | None, currency: Currency) -> Line:
    """The priced line of ``usage`` under ``card`` (None: no card covered its days)."""
    if usage.online_s:
        usage = Usage(
            usage.key, usage.plays, usage.completed, usage.play_ms, to_milli(usage.online_s)
        )
    key = usage.key
    basis: Basis | Literal["online_hour", ""]
    if card is None:
        basis, rate = "", ZERO
    elif key.kind == "online":
        basis, rate = "online_hour", card.online_hour_rate
    else:
        basis, rate = card.rate_for(key.campaign_id)
    gross = gross_amount(basis, rate, usage, currency)
    platform, owner, driver = (
        split(gross, card, key.driver_id != 0, currency) if card else (ZERO, ZERO, ZERO)
    )
    return Line(
        key,
        usage.plays,
        usage.completed,
        usage.play_ms,
        usage.online_s,
        basis,
        rate,
        quantity(basis, usage),
        gross,
        platform,
        owner,
        driver,
    )


def online_hours_text(online_s: Decimal) -> str:
    """Online seconds as hours with four decimals (the page's and the PDF's column)."""
    return f"{(online_s / HOUR).quantize(Decimal('0.0001')):,}"


__all__ = ["HOUR", "MILLI", "Kind", "Line", "LineKey", "Usage", "price", "split"]
