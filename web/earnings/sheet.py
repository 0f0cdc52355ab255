"""A statement as a sheet (web/http/sheets.py): its page, CSV and PDF show these very rows,
and its JSON (web/earnings/api.py) the same figures unformatted."""

from __future__ import annotations

from billing.documents import Statement, content_hash
from billing.lines import Line, online_hours_text
from billing.money import seconds
from billing.months import label, title
from billing.rates import RateCard
from web.http.sheets import Column, Sheet

COLUMNS = [
    Column("Period"),
    Column("Car"),
    Column("Driver"),
    Column("Item"),
    Column("Plays", True),
    Column("Completed", True),
    Column("Play seconds", True),
    Column("Online hours", True),
    Column("Rate", True),
    Column("Per"),
    Column("Gross", True),
    Column("Platform", True),
    Column("Fleet owner", True),
    Column("Driver share", True),
]
PER = {
    "play_second": "play-second",
    "thousand_plays": "1,000 completed plays",
    "online_hour": "online hour",
    "": "no rate card",
}
RULES = [
    "Plays are counted on the local day of the fleet they started on; play seconds are their"
    " durations; a rate per 1,000 plays counts completed plays.",
    "Online hours are the online time inside the fleet's operating hours (an hour's online"
    " seconds spread evenly over it); each line's online seconds are rounded to the"
    " millisecond.",
    "A tablet's day belongs to the car it was in when the day ended, and to that car's driver"
    " that day. Each line's gross amount is quantity × rate, rounded once to the currency's"
    " minor unit, half up; the driver's share is rounded the same way, the fleet owner's is"
    " the rounded owner and driver shares together minus the driver's (a line without a"
    " driver pays the driver's share to the fleet owner), and the platform keeps the rest."
    " Totals are exact sums of the lines.",
]


def _period(x: Line, statement: Statement) -> str:
    return label(x.key.period) + ("" if x.key.period == statement.month else " adj.")


def row(x: Line, statement: Statement) -> list[str]:
    c = statement.currency
    k = x.key
    item = "Online hours in operating hours" if k.kind == "online" else f"Campaign {k.campaign_id}"
    return [
        _period(x, statement),
        k.car_id or "(no car)",
        statement.driver_name(k.driver_id),
        item,
        str(x.plays) if k.kind == "plays" else "",
        str(x.completed) if k.kind == "plays" else "",
        f"{x.play_seconds}" if k.kind == "plays" else "",
        online_hours_text(x.online_s) if k.kind == "online" else "",
        f"{x.rate.normalize():f}" if k.rate_version else "",
        PER[x.basis],
        c.plain(x.gross),
        c.plain(x.platform),
        c.plain(x.owner),
        c.plain(x.driver),
    ]


def total_row(statement: Statement) -> list[str]:
    c, t = statement.currency, statement.totals
    return [
        "Total", "", "", "", str(t.plays), str(t.completed), str(seconds(t.play_ms)),
        online_hours_text(t.online_s), "", "", c.plain(t.gross), c.plain(t.platform),
        c.plain(t.owner), c.plain(t.driver),
    ]  # fmt: skip


def party_title(statement: Statement) -> str:
    who = "Fleet" if statement.kind == "fleet" else "Driver"
    return f"{who} statement · {statement.party_name} · {title(statement.month)}"


def status(statement: Statement) -> str:
    if statement.closing is None:
        return (
            "open: computed now from the data stored so far (it changes until the month is closed)"
        )
    c = statement.closing
    return f"closed {c.closed_at:%Y-%m-%d %H:%M} UTC by {c.closed_by}: frozen"


def card_notes(statement: Statement, cards: list[RateCard]) -> list[str]:
    used = sorted({x.key.rate_version for x in (*statement.lines, *statement.adjustments)} - {0})
    notes = []
    for card in (c for c in cards if c.version in used):
        s = card.shares
        campaigns = "; ".join(
            f"{r.campaign_id}: {r.rate.normalize():f} per {PER[r.basis]}" for r in card.campaigns
        )
        notes.append(
            f"Rate card version {card.version} ({card.validity}): default"
            f" {card.default_rate.normalize():f} {statement.currency.code} per"
            f" {PER[card.default_basis]}; online hour {card.online_hour_rate.normalize():f};"
            f" shares platform {s.platform} %, fleet owner {s.owner} %, driver {s.driver} %"
            + (f"; campaigns {campaigns}" if campaigns else "")
        )
    if statement.unpriced_lines:
        notes.append(
            f"{statement.unpriced_lines} line(s) fall on days no rate card covers: they are"
            " shown at zero until a card covers them."
        )
    return notes


def sheet(statement: Statement, cards: list[RateCard]) -> Sheet:
    c = statement.currency
    payable = "Fleet owner's earnings" if statement.kind == "fleet" else "Driver's earnings"
    facts = [
        ("Fleet" if statement.kind == "fleet" else "Driver", statement.party_name),
        ("Month", f"{title(statement.month)} (local days in {statement.timezone})"),
        ("Currency", c.code),
        (payable, f"{c.code} {c.text(statement.payable)}"),
        ("Status", status(statement)),
    ]
    digest = statement.closing.content_hash if statement.closing else content_hash(statement)
    facts.append(("Content hash (SHA-256)", digest))
    rows = [row(x, statement) for x in (*statement.lines, *statement.adjustments)]
    notes = [*RULES, *card_notes(statement, cards)]
    if statement.adjustments:
        notes.append(
            "Lines marked 'adj.' adjust a closed month for data that arrived after it was"
            " closed: they are the month priced now minus what was billed for it."
        )
    return Sheet(
        party_title(statement),
        facts,
        COLUMNS,
        rows,
        total_row(statement),
        notes,
        footer=f"sha256 {digest}",
    )


def filename(statement: Statement, extension: str) -> str:
    party = statement.party if statement.kind == "fleet" else f"driver-{statement.party}"
    return f"statement-{label(statement.month)}-{party}.{extension}"
