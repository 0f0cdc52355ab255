"""The Jinja environment shared by the panel's routes, with its few filters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

WEB = Path(__file__).resolve().parents[1]
# The shared layouts (web/templates) first, then each feature folder's own templates.
TEMPLATE_DIRS = [WEB / "templates", *sorted(WEB.glob("*/templates"))]
TEMPLATES = Jinja2Templates(directory=TEMPLATE_DIRS)


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


def iso(when: datetime | None) -> str:
    return "" if when is None else when.isoformat()


TEMPLATES.env.filters["ago"] = ago
TEMPLATES.env.filters["iso"] = iso
