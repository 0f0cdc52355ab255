"""The Jinja environment shared by the panel's routes, with its few filters.

Times: every time a page shows is in the page's zone (``zone`` in the context, else the
signed-in user's, :attr:`web.deps.Login.timezone`), inside a ``<time>`` whose title
gives it in UTC. ``ago`` times carry ``data-ago`` so the page's script keeps them ticking.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from web.http.menu import home_label, home_of

WEB = Path(__file__).resolve().parents[1]
# The shared layouts (web/templates) first, then each feature folder's own templates.
TEMPLATE_DIRS = [WEB / "templates", *sorted(WEB.glob("*/templates"))]
TEMPLATES = Jinja2Templates(directory=TEMPLATE_DIRS)

FORMATS = {
    "time": "%H:%M",
    "seconds": "%H:%M:%S",
    "datetime": "%Y-%m-%d %H:%M",
    "date": "%Y-%m-%d",
    "day": "%a %d %b",
}


def ago(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def duration(seconds: float) -> str:
    """A span as people say it: "45 s", "23 min", "2 h 05 min", "3 d 4 h"."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def iso(when: datetime | None) -> str:
    return "" if when is None else when.isoformat()


def iso_s(when: datetime | None) -> str:
    """ISO 8601 to the second (the grid's 20,000 tiles: every byte counts)."""
    return "" if when is None else when.isoformat(timespec="seconds")


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def local_text(when: datetime, zone_name: str | None, fmt: str = "datetime") -> str:
    """``when`` in the zone, as text (with the zone's abbreviation for ``datetime``)."""
    local = when.astimezone(zone(zone_name))
    text = local.strftime(FORMATS.get(fmt, fmt))
    return f"{text} {local.tzname()}" if fmt == "datetime" else text


def page_zone(context: Context) -> str:
    """The zone of the page being rendered: its ``zone``, else the user's, else UTC."""
    chosen = context.get("zone")
    if chosen:
        return str(chosen)
    login = context.get("login")
    return str(getattr(login, "timezone", "UTC"))


@pass_context
def local(context: Context, when: datetime | None, fmt: str = "datetime", tz: str = "") -> Any:
    """``<time>`` in the page's zone (or ``tz``), UTC on hover; "–" without a time."""
    if when is None:
        return "–"
    text = local_text(when, tz or page_zone(context), fmt)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        when.isoformat(), utc_text(when), text
    )


@pass_context
def since(context: Context, when: datetime | None, now: datetime | None = None) -> Any:
    """ "3 min ago" that keeps ticking (panel script), the local time and UTC on hover."""
    if when is None:
        return "never"
    title = f"{local_text(when, page_zone(context))} · {utc_text(when)}"
    return Markup('<time datetime="{}" data-ago title="{}">{}</time>').format(
        when.isoformat(), title, ago(when, now)
    )


def zone_label(name: str) -> str:
    """ "Asia/Singapore (SGT)"."""
    abbreviation = datetime.now(UTC).astimezone(zone(name)).tzname()
    return name if abbreviation in (None, name) else f"{name} ({abbreviation})"


TEMPLATES.env.filters["ago"] = ago
TEMPLATES.env.filters["iso"] = iso
TEMPLATES.env.filters["iso_s"] = iso_s
TEMPLATES.env.filters["local"] = local
TEMPLATES.env.filters["since"] = since
TEMPLATES.env.filters["duration"] = duration
TEMPLATES.env.globals["home_of"] = home_of
TEMPLATES.env.globals["home_label"] = home_label
TEMPLATES.env.globals["zone_label"] = zone_label
TEMPLATES.env.globals["local_text"] = local_text
