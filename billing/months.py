"""Billing months: a calendar month of local days in a zone (a fleet's, or the tenant's for
lead invoices), written ``2026-03``; its first and last day and the instants it spans."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.errors import BillingError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> date:
    """``2026-03`` → the first day of that month."""
    match = _MONTH.match(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise BillingError(f"a month is written like 2026-03, not {text.strip()[:20]!r}")
    return date(int(match.group(1)), int(match.group(2)), 1)


def label(month: date) -> str:
    return f"{month:%Y-%m}"


def title(month: date) -> str:
    """``March 2026``."""
    return f"{month:%B %Y}"


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def last_day(month: date) -> date:
    return next_month(month) - timedelta(days=1)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BillingError(
            f"unknown time zone {name[:64]!r}: use an IANA name like Asia/Singapore"
        ) from None


def midnight(day: date, timezone: str) -> datetime:
    """The instant (UTC) at which ``day`` starts in ``timezone``."""
    return datetime.combine(day, time(0), zone(timezone)).astimezone(UTC)


def span(month: date, timezone: str) -> tuple[datetime, datetime]:
    """The month's instants in ``timezone``: from its first local midnight to the next
    month's, as UTC ``[lo, hi)``."""
    return midnight(month, timezone), midnight(next_month(month), timezone)


def month_at(at: datetime, timezone: str) -> date:
    """The month ``at`` falls in, in ``timezone``."""
    return at.astimezone(zone(timezone)).date().replace(day=1)


def local_today(at: datetime, timezone: str) -> date:
    return at.astimezone(zone(timezone)).date()


def has_ended(month: date, timezones: list[str], now: datetime) -> bool:
    """The month is over in every one of ``timezones`` (the last zone to reach it decides)."""
    return all(span(month, tz)[1] <= now for tz in timezones)
