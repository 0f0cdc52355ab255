"""Statements and rate cards as JSON for bearer tokens: the same figures as the panel's
pages, CSVs and PDFs (one Statement each), decimals as exact strings."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from billing.documents import Statement, Totals, content_hash
from billing.lines import HOUR, Line
from billing.money import seconds
from billing.rates import RateCard
from config.errors import ConfigError
from store import rate_cards
from web.deps import ApiAdmin, ApiUser, BearerUser, PoolDep
from web.earnings import access
from web.earnings.compute import MonthStatements
from web.earnings.rate_form import parse_card

router = APIRouter(prefix="/api/v1", tags=["earnings"])
MonthQuery = Annotated[
    str | None, Query(max_length=16, description="YYYY-MM (default: this month)")
]
MISSING: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such statement in scope"},
    422: {"description": "bad month"},
}


class TotalsOut(BaseModel):
    plays: int
    completed: int
    play_seconds: Decimal
    online_seconds: Decimal
    online_hours: Decimal
    gross: Decimal
    platform: Decimal
    owner: Decimal
    driver: Decimal

    @classmethod
    def of(cls, t: Totals) -> TotalsOut:
        return cls(
            plays=t.plays, completed=t.completed, play_seconds=seconds(t.play_ms),
            online_seconds=t.online_s, online_hours=t.online_s / HOUR, gross=t.gross,
            platform=t.platform, owner=t.owner, driver=t.driver,
        )  # fmt: skip


class LineOut(BaseModel):
    period: date
    adjustment: bool = Field(description="for a closed month, with data that came later")
    car_id: str | None
    driver_id: int | None
    driver_name: str | None
    kind: Literal["plays", "online"]
    campaign_id: str | None
    rate_version: int | None = Field(description="null: no rate card covered these days")
    basis: str | None
    rate: Decimal | None
    plays: int
    completed: int
    play_seconds: Decimal
    online_seconds: Decimal
    quantity: Decimal
    gross: Decimal
    platform: Decimal
    owner: Decimal
    driver: Decimal

    @classmethod
    def of(cls, x: Line, s: Statement) -> LineOut:
        k = x.key
        return cls(
            period=k.period, adjustment=k.period != s.month, car_id=k.car_id or None,
            driver_id=k.driver_id or None,
            driver_name=s.driver_name(k.driver_id) if k.driver_id else None, kind=k.kind,
            campaign_id=k.campaign_id or None, rate_version=k.rate_version or None,
            basis=x.basis or None, rate=x.rate if k.rate_version else None, plays=x.plays,
            completed=x.completed, play_seconds=x.play_seconds, online_seconds=x.online_s,
            quantity=x.quantity, gross=x.gross, platform=x.platform, owner=x.owner,
            driver=x.driver,
        )  # fmt: skip


class StatementHead(BaseModel):
    kind: Literal["fleet", "driver"]
    party: str = Field(description="the fleet id, or the driver id")
    party_name: str
    fleet_id: str
    month: str
    currency: str
    status: Literal["open", "closed"]
    closed_at: datetime | None
    closed_by: str | None
    content_hash: str = Field(
        description="SHA-256 of the canonical document (frozen when closed; of the current"
        " figures while open)"
    )
    payable: Decimal = Field(description="the fleet owner's (fleet) or the driver's earnings")
    totals: TotalsOut

    @classmethod
    def head(cls, s: Statement) -> dict[str, object]:
        c = s.closing
        return {
            "kind": s.kind, "party": s.party, "party_name": s.party_name, "fleet_id": s.fleet_id,
            "month": f"{s.month:%Y-%m}", "currency": s.currency.code,
            "status": "closed" if c else "open", "closed_at": c.closed_at if c else None,
            "closed_by": c.closed_by if c else None,
            "content_hash": c.content_hash if c else content_hash(s), "payable": s.payable,
            "totals": TotalsOut.of(s.totals),
        }  # fmt: skip


class StatementOut(StatementHead):
    lines: list[LineOut]

    @classmethod
    def of(cls, s: Statement) -> StatementOut:
        lines = [LineOut.of(x, s) for x in (*s.lines, *s.adjustments)]
        return cls(**StatementHead.head(s), lines=lines)  # type: ignore[arg-type]


class MonthOut(BaseModel):
    month: str
    currency: str
    status: Literal["open", "closed"]
    closed_at: datetime | None
    fleets: list[StatementHead]
    drivers: list[StatementHead]

    @classmethod
    def of(cls, found: MonthStatements) -> MonthOut:
        return cls(
            month=f"{found.month:%Y-%m}",
            currency=found.currency.code,
            status="closed" if found.close else "open",
            closed_at=found.close.closed_at if found.close else None,
            fleets=[StatementHead(**StatementHead.head(s)) for s in found.fleets],  # type: ignore[arg-type]
            drivers=[StatementHead(**StatementHead.head(s)) for s in found.drivers],  # type: ignore[arg-type]
        )


@router.get("/statements", responses=MISSING)
async def statements(pool: PoolDep, user: BearerUser, month: MonthQuery = None) -> MonthOut:
    """The month's statements in the caller's scope with their totals (admins: the tenant's
    fleets and drivers; fleet owners: their fleets and those fleets' drivers)."""
    first = await access.month_param(pool, user, month)
    return MonthOut.of(await access.statements_for(pool, user, first))


@router.get("/statements/{month}/fleets/{fleet_id}", responses=MISSING)
async def fleet_statement(
    month: str, fleet_id: str, pool: PoolDep, user: BearerUser
) -> StatementOut:
    """One fleet's statement, every line (as the panel's page, CSV and PDF)."""
    found, _ = await access.fleet_statement(pool, user, month, fleet_id)
    return StatementOut.of(found)


@router.get("/statements/{month}/drivers/{driver_id}", responses=MISSING)
async def driver_statement(
    month: str, driver_id: str, pool: PoolDep, user: BearerUser
) -> StatementOut:
    """One driver's statement, every line."""
    found, _ = await access.driver_statement(pool, user, month, driver_id)
    return StatementOut.of(found)


# --- rate cards ---


class CampaignRateIn(BaseModel):
    campaign_id: str = Field(max_length=128)
    basis: Literal["play_second", "thousand_plays"]
    rate: str = Field(max_length=30, description="a decimal, e.g. 2.50")


class RateCardIn(BaseModel):
    valid_from: str = Field(max_length=10, description="the first day, YYYY-MM-DD")
    valid_to: str | None = Field(default=None, max_length=10, description="the last day")
    default_basis: Literal["play_second", "thousand_plays"]
    default_rate: str = Field(max_length=30)
    online_hour_rate: str = Field(max_length=30)
    platform_share: str = Field(max_length=10, description="percent")
    owner_share: str = Field(max_length=10)
    driver_share: str = Field(max_length=10)
    campaigns: list[CampaignRateIn] = Field(default_factory=list, max_length=200)
    note: str = Field(default="", max_length=500)


class RateCardOut(BaseModel):
    version: int
    valid_from: date
    valid_to: date | None
    default_basis: str
    default_rate: Decimal
    online_hour_rate: Decimal
    platform_share: Decimal
    owner_share: Decimal
    driver_share: Decimal
    campaigns: list[CampaignRateIn]
    note: str

    @classmethod
    def of(cls, c: RateCard) -> RateCardOut:
        return cls(
            version=c.version, valid_from=c.valid_from, valid_to=c.valid_to,
            default_basis=c.default_basis, default_rate=c.default_rate,
            online_hour_rate=c.online_hour_rate, platform_share=c.shares.platform,
            owner_share=c.shares.owner, driver_share=c.shares.driver,
            campaigns=[
                CampaignRateIn(campaign_id=r.campaign_id, basis=r.basis, rate=f"{r.rate:f}")
                for r in c.campaigns
            ],
            note=c.note,
        )  # fmt: skip


@router.get("/rate-cards")
async def list_rate_cards(pool: PoolDep, user: ApiUser) -> list[RateCardOut]:
    """The tenant's rate cards, oldest validity first."""
    async with pool.connection() as conn:
        return [RateCardOut.of(c) for c in await rate_cards.cards(conn, user.tenant_id)]


@router.post(
    "/rate-cards",
    status_code=201,
    responses={422: {"description": "an invalid card, with the reason"}},
)
async def add_rate_card(body: RateCardIn, pool: PoolDep, user: ApiAdmin) -> RateCardOut:
    """A new version (numbered by the store). Refused with the reason when shares do not add
    up to 100 %, a rate is negative, validity overlaps another card or reaches into a closed
    month."""
    try:
        card = parse_card(
            body.valid_from, body.valid_to or "", body.default_basis, body.default_rate,
            body.online_hour_rate, (body.platform_share, body.owner_share, body.driver_share),
            [(c.campaign_id, c.basis, c.rate) for c in body.campaigns], body.note,
        )  # fmt: skip
        async with pool.connection() as conn:
            return RateCardOut.of(await rate_cards.add(conn, user.tenant_id, card, user.email))
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
