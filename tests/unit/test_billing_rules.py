"""The pure billing rules (billing/): rounding, shares, pricing, rate card checks,
adjustments, documents and months."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.adjust import adjustments
from billing.assignments import Assignment, CarSpell, segments
from billing.documents import Statement, Totals, canonical, content_hash
from billing.errors import BillingError
from billing.leads import lead_line
from billing.lines import LineKey, Usage, price, split
from billing.money import Currency, parse_decimal
from billing.months import has_ended, month_at, parse_month, span
from billing.rates import CampaignRate, RateCard, Shares, check_card, check_end
from billing.statements import Party, build

SGD = Currency("SGD", 2)
MARCH = date(2026, 3, 1)


def card(
    version: int = 1,
    valid_from: date = date(2026, 1, 1),
    valid_to: date | None = None,
    shares: tuple[str, str, str] = ("40", "45", "15"),
    campaigns: tuple[CampaignRate, ...] = (),
) -> RateCard:
    return RateCard(
        version,
        valid_from,
        valid_to,
        "play_second",
        Decimal("0.002"),
        Decimal("0.50"),
        Shares(*(Decimal(s) for s in shares)),
        campaigns,
    )


def key(
    kind: str = "plays", driver: int = 7, campaign: str = "c-1", period: date = MARCH
) -> LineKey:
    return LineKey(period, "fl-1", "car-1", driver, kind, campaign, 1)  # type: ignore[arg-type]


def test_money_rounds_half_up_once() -> None:
    assert SGD.round(Decimal("0.005")) == Decimal("0.01")
    assert SGD.round(Decimal("0.0049999")) == Decimal("0.00")
    assert SGD.round(Decimal("-0.005")) == Decimal("-0.01")  # away from zero, as credits
    assert Currency("JPY", 0).round(Decimal("12.5")) == Decimal("13")
    assert SGD.text(Decimal("1234.5")) == "1,234.50"
    assert SGD.plain(Decimal("1234.5")) == "1234.50"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "must be a number"),
        ("-1", "cannot be negative"),
        ("0.1234567", "at most 6 decimals"),
        ("1e3", "must be a number"),
    ],
)
def test_typed_decimals_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(BillingError, match=message):
        parse_decimal(text, "the rate", 6)


def test_a_currency_is_three_capitals() -> None:
    with pytest.raises(BillingError, match="three capital letters"):
        Currency("sgd", 2)


def test_play_seconds_and_thousand_plays_are_priced_from_exact_units() -> None:
    c = card(campaigns=(CampaignRate("c-2", "thousand_plays", Decimal("2.50")),))
    seconds = price(Usage(key(), plays=3, completed=2, play_ms=45_001), c, SGD)
    assert (seconds.basis, seconds.quantity) == ("play_second", Decimal("45.001"))
    assert seconds.gross == Decimal("0.09")  # 45.001 s × 0.002 = 0.090002
    thousand = price(Usage(key(campaign="c-2"), plays=1500, completed=1234), c, SGD)
    assert (thousand.basis, thousand.quantity) == ("thousand_plays", Decimal("1.234"))
    assert thousand.gross == Decimal("3.09")  # 1.234 × 2.50 = 3.085 → half up


def test_online_hours_are_priced_from_milliseconds() -> None:
    line = price(Usage(key("online", campaign=""), online_s=Decimal("5400.0004")), card(), SGD)
    assert line.online_s == Decimal("5400.000")
    assert line.quantity == Decimal("1.500000")
    assert line.gross == Decimal("0.75")


def test_shares_add_up_and_no_driver_pays_the_owner() -> None:
    c = card(shares=("40", "45", "15"))
    assert split(Decimal("10.01"), c, True, SGD) == (
        Decimal("4.00"),  # 10.01 − 4.51 − 1.50
        Decimal("4.51"),  # round(10.01 × 60 %) − 1.50 = 6.01 − 1.50
        Decimal("1.50"),  # round(10.01 × 15 %) = round(1.5015)
    )
    assert split(Decimal("10.01"), c, False, SGD) == (
        Decimal("4.00"),
        Decimal("6.01"),
        Decimal("0"),
    )


@given(
    cents=st.integers(min_value=0, max_value=10**9),
    driver=st.integers(min_value=0, max_value=10_000),
    owner=st.integers(min_value=0, max_value=10_000),
    has_driver=st.booleans(),
)
def test_shares_are_never_negative_and_always_sum_to_the_gross(
    cents: int, driver: int, owner: int, has_driver: bool
) -> None:
    owner = min(owner, 10_000 - driver)
    shares = (
        str(Decimal(10_000 - driver - owner) / 100),
        str(Decimal(owner) / 100),
        str(Decimal(driver) / 100),
    )
    gross = Decimal(cents) / 100
    parts = split(gross, card(shares=shares), has_driver, SGD)
    assert sum(parts) == gross
    assert all(p >= 0 for p in parts)
    assert all(p == SGD.round(p) for p in parts)


def test_days_without_a_card_are_zero_and_marked() -> None:
    line = price(Usage(key(), plays=5, completed=5, play_ms=75_000), None, SGD)
    assert (line.gross, line.owner, line.basis) == (Decimal(0), Decimal(0), "")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (card(shares=("40", "45", "20")), "must add up to 100 %.*= 105"),
        (card(shares=("-5", "90", "15")), "between 0 and 100"),
        (card(valid_to=date(2025, 12, 31)), "ends .* before it starts"),
        (card(version=2, valid_from=date(2026, 2, 1)), "overlaps version 1.*2026-01-31"),
        (card(version=3, valid_from=date(2025, 12, 1)), "overlaps version 1"),
        (
            card(
                campaigns=(
                    CampaignRate("c", "play_second", Decimal(1)),
                    CampaignRate("c", "play_second", Decimal(2)),
                )
            ),
            "two rates",
        ),
    ],
)
def test_invalid_cards_are_refused_with_a_clear_message(bad: RateCard, message: str) -> None:
    existing = [card()] if bad.version != 1 else []
    with pytest.raises(BillingError, match=message):
        check_card(bad, existing, None)


def test_cards_stay_out_of_closed_months() -> None:
    with pytest.raises(BillingError, match=r"inside a closed month.*2026-04-01 or later"):
        check_card(card(valid_from=date(2026, 3, 1)), [], date(2026, 3, 31))
    check_card(card(valid_from=date(2026, 4, 1)), [], date(2026, 3, 31))
    ended = check_end(card(), date(2026, 4, 30), date(2026, 3, 31))
    assert ended.valid_to == date(2026, 4, 30)
    with pytest.raises(BillingError, match="inside a closed month"):
        check_end(card(), date(2026, 3, 15), date(2026, 3, 31))
    with pytest.raises(BillingError, match="only moves earlier"):
        check_end(card(valid_to=date(2026, 5, 1)), date(2026, 6, 1), None)


def test_a_card_after_an_ended_one_is_accepted() -> None:
    first = card(valid_to=date(2026, 2, 28))
    check_card(card(version=2, valid_from=date(2026, 3, 1)), [first], None)


def test_adjustments_are_live_minus_billed_per_key() -> None:
    c = card()
    billed = [price(Usage(key(), plays=10, completed=10, play_ms=150_000), c, SGD)]
    live = [
        price(Usage(key(), plays=12, completed=11, play_ms=180_000), c, SGD),
        price(Usage(key(campaign="c-new"), plays=1, completed=1, play_ms=15_000), c, SGD),
    ]
    found = adjustments(live, billed)
    assert [(a.key.campaign_id, a.plays, a.play_ms, a.gross) for a in found] == [
        ("c-1", 2, 30_000, Decimal("0.06")),
        ("c-new", 1, 15_000, Decimal("0.03")),
    ]
    assert sum(a.gross for a in found) + billed[0].gross == sum(x.gross for x in live)
    assert adjustments(live, [*billed, *found]) == []  # billed again: nothing left


def test_a_key_billed_but_gone_is_taken_back() -> None:
    billed = [price(Usage(key(), plays=2, completed=2, play_ms=30_000), card(), SGD)]
    (back,) = adjustments([], billed)
    assert (back.plays, back.gross) == (-2, Decimal("-0.06"))


def test_a_credited_lead_becomes_a_negative_adjustment() -> None:
    at = datetime(2026, 3, 5, tzinfo=UTC)
    billed = lead_line(MARCH, "L1", "c", "Ann", at, Decimal("12.00"), "open")
    assert (billed.status, billed.amount) == ("disputed", Decimal("12.00"))
    credited = lead_line(MARCH, "L1", "c", "Ann", at, Decimal("12.00"), "accepted")
    (credit,) = adjustments([credited], [billed])
    assert (credit.status, credit.amount) == ("credited", Decimal("-12.00"))
    assert lead_line(MARCH, "L2", "c", "Bo", at, None, None).amount == 0


def test_statements_split_by_driver_and_carry_adjustments() -> None:
    c = card()
    lines = [
        price(Usage(key(driver=7), plays=1, completed=1, play_ms=60_000), c, SGD),
        price(Usage(key(driver=8), plays=1, completed=1, play_ms=30_000), c, SGD),
        price(Usage(key(driver=0), plays=1, completed=1, play_ms=10_000), c, SGD),
        price(Usage(key(driver=7, period=date(2026, 2, 1)), plays=1, play_ms=5_000), c, SGD),
    ]
    fleets = {"fl-1": Party("Fleet one", "fl-1", "Asia/Singapore")}
    drivers = {
        7: Party("Ann", "fl-1", "Asia/Singapore"),
        8: Party("Bo", "fl-1", "Asia/Singapore"),
    }
    (fleet,), (ann, bo) = build(MARCH, SGD, lines, fleets, drivers)
    assert (len(fleet.lines), len(fleet.adjustments)) == (3, 1)
    assert (len(ann.lines), len(ann.adjustments), len(bo.lines)) == (1, 1, 1)
    assert fleet.totals.driver == ann.payable + bo.payable
    assert fleet.totals.gross == fleet.totals.platform + fleet.totals.owner + fleet.totals.driver
    assert fleet.payable == fleet.totals.owner
    assert fleet.totals == Totals.of([*fleet.lines, *fleet.adjustments])


def test_the_content_hash_covers_every_figure() -> None:
    line = price(Usage(key(), plays=1, completed=1, play_ms=60_000), card(), SGD)
    doc = Statement("fleet", "fl-1", "Fleet one", "fl-1", MARCH, SGD, "UTC", (line,))
    same = Statement("fleet", "fl-1", "Fleet one", "fl-1", MARCH, SGD, "UTC", (line,))
    assert content_hash(doc) == content_hash(same)
    assert b'"0.12"' in canonical(doc)
    other = price(Usage(key(), plays=1, completed=1, play_ms=60_001), card(), SGD)
    changed = Statement("fleet", "fl-1", "Fleet one", "fl-1", MARCH, SGD, "UTC", (other,))
    assert content_hash(changed) != content_hash(doc)


def test_months_are_local() -> None:
    assert parse_month("2026-03") == MARCH
    with pytest.raises(BillingError, match="written like 2026-03"):
        parse_month("2026-13")
    lo, hi = span(MARCH, "Asia/Singapore")
    assert (lo, hi) == (
        datetime(2026, 2, 28, 16, tzinfo=UTC),
        datetime(2026, 3, 31, 16, tzinfo=UTC),
    )
    assert month_at(datetime(2026, 2, 28, 16, tzinfo=UTC), "Asia/Singapore") == MARCH
    assert has_ended(MARCH, ["Asia/Singapore"], datetime(2026, 3, 31, 16, tzinfo=UTC))
    assert not has_ended(
        MARCH, ["Asia/Singapore", "America/New_York"], datetime(2026, 3, 31, 16, tzinfo=UTC)
    )


def _spell(since: str, car: str | None, fleet: str = "fl-1") -> CarSpell:
    return CarSpell("t1", datetime.fromisoformat(since).replace(tzinfo=UTC), fleet, car)


def _day_end(fleet_id: str, day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)


def test_a_month_splits_by_driver_car_and_card_exactly() -> None:
    held = {
        "car-a": [
            Assignment(1, 7, "Ann", "car-a", date(2026, 2, 1), date(2026, 3, 15)),
            Assignment(2, 8, "Bo", "car-a", date(2026, 3, 16), None),
        ]
    }
    cards = [card(valid_to=date(2026, 3, 20)), card(version=2, valid_from=date(2026, 3, 21))]
    spells = [_spell("2026-01-01 00:00", "car-a"), _spell("2026-03-25 12:00", "car-b")]
    found = segments(spells, MARCH, date(2026, 3, 31), _day_end, held, cards)
    assert [(g.car_id, g.driver_id, g.rate_version, g.first.day, g.last.day) for g in found] == [
        ("car-a", 7, 1, 1, 15),  # Ann to the 15th
        ("car-a", 8, 1, 16, 20),  # Bo from the 16th, card 1 to the 20th
        ("car-a", 8, 2, 21, 24),  # card 2
        ("car-b", 0, 2, 25, 31),  # moved at noon on the 25th: that day is car-b's (no driver)
    ]
    days = sum((g.last - g.first).days + 1 for g in found)
    assert days == 31


def test_days_before_a_tablets_first_car_belong_to_it() -> None:
    (only,) = segments(
        [_spell("2026-03-10 08:00", "car-a")], MARCH, date(2026, 3, 31), _day_end, {}, []
    )
    assert (only.car_id, only.first, only.last, only.rate_version) == (
        "car-a",
        MARCH,
        date(2026, 3, 31),
        0,
    )
