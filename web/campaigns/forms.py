"""The campaign form, read into a :class:`store.campaigns.Spec`: every problem is a
:class:`ConfigError` the page shows beside the form."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.datastructures import FormData

from actors.rules.dayparts import Daypart
from config.errors import ConfigError
from store.campaigns import MAX_CREATIVES, MAX_DAYPARTS, Scope, Spec
from web.manage.fields import Fields

MAX_GOAL = 10**12
DAYPART_HINT = "one per line: ISO weekdays (1 = Monday) and a time window, e.g. 1-5 19:00-22:00"


def parse_dayparts(text: str) -> tuple[Daypart, ...]:
    """``1-5 19:00-22:00``, ``6-7`` (all day), ``07:00-10:00`` (every day), one per line."""
    parts = []
    for n, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        times = [w for w in words if ":" in w]
        days = [w for w in words if ":" not in w]
        if len(times) > 1 or len(days) > 1:
            raise ConfigError(f"Daypart line {n}: {DAYPART_HINT}")
        try:
            parts.append(Daypart.parse(days[0] if days else None, times[0] if times else None))
        except ConfigError as exc:
            raise ConfigError(f"Daypart line {n}: {exc}") from None
    if len(parts) > MAX_DAYPARTS:
        raise ConfigError(f"at most {MAX_DAYPARTS} dayparts")
    return tuple(parts)


def daypart_text(dayparts: list[Daypart]) -> str:
    lines = []
    for d in dayparts:
        days = _days(d.days) if d.days is not None else ""
        window = f"{d.start:%H:%M}-{d.end:%H:%M}" if d.start and d.end else ""
        lines.append(" ".join(w for w in (days, window) if w))
    return "\n".join(lines)


def _days(days: tuple[int, ...]) -> str:
    runs: list[list[int]] = []
    for d in days:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _local(text: str, label: str, tz: ZoneInfo) -> datetime:
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{label}: a date and time like 2026-05-01T00:00") from None
    if naive.tzinfo is not None:
        raise ConfigError(f"{label}: give the local time without an offset")
    return naive.replace(tzinfo=tz)


def _goal(fields: Fields, name: str, label: str) -> int | None:
    text = fields.text(name, label, 14)
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) <= MAX_GOAL:
        raise ConfigError(f"{label}: a whole number above 0")
    return int(text)


def read_spec(form: FormData, scope: Scope, campaign_id: str | None = None) -> Spec:
    """The posted campaign; ``campaign_id`` given for an edit (the form's is ignored)."""
    fields = Fields(form)
    cid = campaign_id or fields.required("campaign_id", "Campaign id", 64)
    advertiser = scope.advertiser_id or fields.required("advertiser_id", "Advertiser", 63)
    zone_name = fields.required("timezone", "Time zone", 64)
    try:
        tz = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"Time zone: unknown zone {zone_name!r} (e.g. Asia/Singapore)") from None
    unit = fields.text("goal_unit", "Goal unit", 10) or "plays"
    if unit not in ("plays", "seconds"):
        raise ConfigError("Goal unit: plays or seconds")
    sov = fields.text("share_of_voice", "Share of voice", 3)
    if sov and (not sov.isdigit() or not 1 <= int(sov) <= 90):
        raise ConfigError("Share of voice: 1 to 90 (% of the loop), or empty")
    return Spec(
        campaign_id=cid,
        advertiser_id=advertiser,
        name=fields.required("name", "Name", 200),
        brand=fields.text("brand", "Brand", 200),
        timezone=zone_name,
        flight_start=_local(
            fields.required("flight_start", "Flight start", 40), "Flight start", tz
        ),
        flight_end=_local(fields.required("flight_end", "Flight end", 40), "Flight end", tz),
        goal_unit=unit,  # type: ignore[arg-type]  # checked above
        daily_goal=_goal(fields, "daily_goal", "Daily goal"),
        total_goal=_goal(fields, "total_goal", "Total goal"),
        priority=fields.integer("priority", "Priority", 1, 10, 1),
        share_of_voice=int(sov) if sov else None,
        fleets=tuple(fields.texts("fleet", "Fleets", 63, 500)),
        dayparts=parse_dayparts(fields.text("dayparts", "Dayparts", 2000)),
        zones=tuple(fields.texts("zone", "Zones", 16, 200)),
        creatives=tuple(fields.texts("creative", "Creatives", 20, MAX_CREATIVES * 2)),
    )
