"""Money: exact decimals in a tenant's currency, and the one rounding rule.

Every amount is a :class:`~decimal.Decimal`, never a float. Rounding happens once, where an
amount is made: a line's gross (quantity × rate) and its shares are rounded to the currency's
minor unit, half up (0.005 → 0.01); every total is the exact sum of rounded amounts, so a
column of a statement always adds up to its total. Quantities are exact: plays are counts,
play-seconds are milliseconds / 1000, online seconds are rounded to the millisecond once per
line (:data:`MILLI`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from billing.errors import BillingError

ROUNDING = ROUND_HALF_UP
MILLI = Decimal("0.001")
ZERO = Decimal(0)
_CODE = re.compile(r"^[A-Z]{3}$")
_NUMBER = re.compile(r"^-?\d{1,12}(\.\d+)?$")


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 code and its minor units (SGD: 2, JPY: 0)."""

    code: str = "SGD"
    minor_units: int = 2
    quantum: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _CODE.match(self.code):
            raise BillingError(f"a currency is three capital letters (SGD, EUR), not {self.code!r}")
        if not 0 <= self.minor_units <= 4:
            raise BillingError("a currency has 0 to 4 minor units (SGD: 2)")
        object.__setattr__(self, "quantum", Decimal(1).scaleb(-self.minor_units))

    def round(self, amount: Decimal) -> Decimal:
        """``amount`` to the minor unit, half up: the only rounding of money."""
        return amount.quantize(self.quantum, rounding=ROUNDING)

    def text(self, amount: Decimal) -> str:
        """``amount`` with its minor units and thousands separators: ``1,234.50``."""
        return f"{amount:,.{self.minor_units}f}"

    def plain(self, amount: Decimal) -> str:
        """``amount`` as a machine reads it (CSV, JSON): ``1234.50``."""
        return f"{amount:.{self.minor_units}f}"


def seconds(milliseconds: int) -> Decimal:
    """Milliseconds as exact seconds (three decimals)."""
    return (Decimal(milliseconds) / 1000).quantize(MILLI)


def to_milli(value: Decimal) -> Decimal:
    """Seconds to the millisecond, half up (online seconds, once per line)."""
    return value.quantize(MILLI, rounding=ROUNDING)


def parse_decimal(text: str, what: str, places: int, *, maximum: Decimal | None = None) -> Decimal:
    """A non-negative decimal typed by a person (``12``, ``0.0025``) with at most ``places``
    decimals; :class:`BillingError` says what is wrong with it."""
    cleaned = text.strip().replace(",", "")
    if not _NUMBER.match(cleaned):
        raise BillingError(f"{what} must be a number like 12.50, not {text.strip()[:20]!r}")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise BillingError(f"{what} must be a number like 12.50") from None
    if value < 0:
        raise BillingError(f"{what} cannot be negative")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise BillingError(f"{what} has at most {places} decimals")
    if maximum is not None and value > maximum:
        raise BillingError(f"{what} is at most {maximum}")
    return value
