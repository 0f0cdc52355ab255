"""Documents: a fleet's or a driver's monthly statement and a buyer's monthly lead invoice,
their totals, and the content hash that seals a closed one.

A document holds its month's lines and the adjustments it carries for earlier, closed
months. Its totals are exact sums of its lines. A fleet statement pays the fleet owner the
``owner`` column (which includes the driver's share of lines without a driver); a driver's
statement holds the lines of the cars they drove and pays the ``driver`` column.

The content hash is the SHA-256 of the document's canonical JSON (:func:`canonical`): every
field of every line, decimals in plain notation, in one order. The store keeps it with the
frozen rows; anyone can recompute it from the CSV's or the API's figures.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from billing.leads import LeadLine
from billing.lines import Line
from billing.money import ZERO, Currency

StatementKind = Literal["fleet", "driver"]
DocKind = Literal["fleet", "driver", "leads"]


@dataclass(frozen=True, slots=True)
class Closing:
    """A closed month's seal on one document."""

    document_id: int
    closed_at: datetime
    closed_by: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class Totals:
    plays: int = 0
    completed: int = 0
    play_ms: int = 0
    online_s: Decimal = ZERO
    gross: Decimal = ZERO
    platform: Decimal = ZERO
    owner: Decimal = ZERO
    driver: Decimal = ZERO

    @classmethod
    def of(cls, lines: Iterable[Line]) -> Totals:
        total = cls()
        for x in lines:
            total = total.plus(
                cls(
                    x.plays,
                    x.completed,
                    x.play_ms,
                    x.online_s,
                    x.gross,
                    x.platform,
                    x.owner,
                    x.driver,
                )
            )
        return total

    def plus(self, other: Totals) -> Totals:
        return Totals(
            self.plays + other.plays,
            self.completed + other.completed,
            self.play_ms + other.play_ms,
            self.online_s + other.online_s,
            self.gross + other.gross,
            self.platform + other.platform,
            self.owner + other.owner,
            self.driver + other.driver,
        )


@dataclass(frozen=True, slots=True)
class Statement:
    kind: StatementKind
    party: str  # the fleet id, or the driver id as text
    party_name: str
    fleet_id: str
    month: date
    currency: Currency
    timezone: str
    lines: tuple[Line, ...]
    adjustments: tuple[Line, ...] = ()
    closing: Closing | None = None
    # Drivers' and cars' names as the statement shows them (frozen with it).
    driver_names: dict[int, str] = field(default_factory=dict)

    @property
    def usage(self) -> Totals:
        return Totals.of(self.lines)

    @property
    def adjusted(self) -> Totals:
        return Totals.of(self.adjustments)

    @property
    def totals(self) -> Totals:
        return self.usage.plus(self.adjusted)

    @property
    def payable(self) -> Decimal:
        """What the statement pays its party."""
        t = self.totals
        return t.owner if self.kind == "fleet" else t.driver

    @property
    def unpriced_lines(self) -> int:
        """Lines on days no rate card covered (priced at zero)."""
        return sum(1 for x in (*self.lines, *self.adjustments) if x.key.rate_version == 0)

    def driver_name(self, driver_id: int) -> str:
        if driver_id == 0:
            return "(no driver)"
        return self.driver_names.get(driver_id, f"driver {driver_id}")


@dataclass(frozen=True, slots=True)
class LeadInvoice:
    agent_id: int
    agent_name: str
    month: date
    currency: Currency
    timezone: str
    lines: tuple[LeadLine, ...]
    adjustments: tuple[LeadLine, ...] = ()
    closing: Closing | None = None
    campaign_names: dict[str, str] = field(default_factory=dict)

    @property
    def party(self) -> str:
        return str(self.agent_id)

    @property
    def total(self) -> Decimal:
        return sum((x.amount for x in (*self.lines, *self.adjustments)), ZERO)

    def count(self, status: str) -> int:
        return sum(1 for x in self.lines if x.status == status)


def _num(value: Decimal | int | None) -> str | None:
    """A decimal in plain notation, one spelling per value (no exponent, no trailing zeros,
    no negative zero)."""
    if value is None:
        return None
    if isinstance(value, int):
        return str(value)
    return format((value + 0).normalize(), "f")


def line_fields(x: Line) -> list[Any]:
    k = x.key
    return [
        str(k.period),
        k.fleet_id,
        k.car_id,
        k.driver_id,
        k.kind,
        k.campaign_id,
        k.rate_version,
        x.plays,
        x.completed,
        x.play_ms,
        _num(x.online_s),
        x.basis,
        _num(x.rate),
        _num(x.quantity),
        _num(x.gross),
        _num(x.platform),
        _num(x.owner),
        _num(x.driver),
    ]


def lead_fields(x: LeadLine) -> list[Any]:
    return [
        str(x.period),
        x.lead_id,
        x.campaign_id,
        x.lead_name,
        x.accepted_at.isoformat(),
        x.status,
        _num(x.price),
        _num(x.amount),
    ]


def canonical(doc: Statement | LeadInvoice) -> bytes:
    """The document as one canonical JSON text (what the content hash is of)."""
    if isinstance(doc, Statement):
        head: dict[str, Any] = {
            "kind": doc.kind,
            "party": doc.party,
            "party_name": doc.party_name,
            "fleet_id": doc.fleet_id,
            "lines": [line_fields(x) for x in doc.lines],
            "adjustments": [line_fields(x) for x in doc.adjustments],
        }
    else:
        head = {
            "kind": "leads",
            "party": doc.party,
            "party_name": doc.agent_name,
            "lines": [lead_fields(x) for x in doc.lines],
            "adjustments": [lead_fields(x) for x in doc.adjustments],
        }
    head |= {"month": str(doc.month), "currency": doc.currency.code}
    return json.dumps(head, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(doc: Statement | LeadInvoice) -> str:
    return hashlib.sha256(canonical(doc)).hexdigest()
