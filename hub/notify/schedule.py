"""When a subscription's delivery is due: after its digest window, outside its quiet hours."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def in_quiet(local: time, start: time, end: time) -> bool:
    """``start``–``end`` in local time; past midnight when ``end`` is not after ``start``."""
    if start < end:
        return start <= local < end
    return local >= start or local < end


def due_at(
    digest_s: int, quiet_from: time | None, quiet_until: time | None, zone: str, now: datetime
) -> datetime:
    """``now`` plus the digest window; held until the quiet hours end if it falls in them."""
    due = now + timedelta(seconds=digest_s)
    if quiet_from is None or quiet_until is None or quiet_from == quiet_until:
        return due
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    local = due.astimezone(tz)
    if not in_quiet(local.time(), quiet_from, quiet_until):
        return due
    end = local.replace(hour=quiet_until.hour, minute=quiet_until.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end
