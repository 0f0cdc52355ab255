"""Alert messages as people read them: a subject, a text, and the webhook's JSON.

One event reads "low storage on t-17 (car SGX-1, Grab SG): 120 MB free"; a digest groups its
events by kind and event, so a depot going dark is one message naming its tablets, not 300.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store.alert_outbox import Event
from store.incidents import ALERT_WORDS

LIST_MAX = 50  # tablets named per group of a digest


def _kind(e: Event) -> str:
    return ALERT_WORDS.get(str(e.payload.get("kind")), str(e.payload.get("kind")))


def _when(e: Event) -> str:
    try:
        at = datetime.fromisoformat(str(e.payload.get("at")))
        tz = ZoneInfo(e.fleet_timezone)
    except (ValueError, ZoneInfoNotFoundError):
        return str(e.payload.get("at"))
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _tablet(e: Event) -> str:
    """The tablet and where it is; a fleet's own event (a halted rollout) names the fleet."""
    if e.payload.get("tablet_id") is None:
        return f"fleet {e.fleet_name}"
    car = f"car {e.car_id}, " if e.car_id else ""
    return f"{e.payload.get('tablet_id')} ({car}{e.fleet_name})"


def _link(e: Event, panel: str) -> str:
    if e.payload.get("rollout_id") is not None:
        return f"{panel}/rollouts/{e.payload['rollout_id']}"
    return f"{panel}/tablets/{e.payload.get('tablet_id')}"


def subject(events: Sequence[Event]) -> str:
    if len(events) == 1:
        e = events[0]
        word = "resolved" if e.payload.get("event") == "resolved" else "opened"
        if e.payload.get("rollout_id") is not None:
            return f"[fleethub] {_kind(e)}: {e.payload.get('app_version')} in {_tablet(e)}"[:300]
        return f"[fleethub] {_kind(e)} {word}: {_tablet(e)}"[:300]
    counts = Counter(str(e.payload.get("event")) for e in events)
    fleets = sorted({e.fleet_name for e in events})
    where = ", ".join(fleets[:3]) + (f" and {len(fleets) - 3} more" if len(fleets) > 3 else "")
    parts = [f"{counts[w]} {w}" for w in ("opened", "resolved") if counts[w]]
    return f"[fleethub] {len(events)} alerts ({', '.join(parts)}) in {where}"[:300]


def text(events: Sequence[Event], panel: str) -> str:
    """The plain text of a message (e-mail body, Telegram message)."""
    if len(events) == 1:
        e = events[0]
        lines = [
            f"{_kind(e)} {e.payload.get('event')} at {_when(e)}",
            _tablet(e) if e.payload.get("tablet_id") is None else f"tablet {_tablet(e)}",
        ]
        if e.payload.get("detail"):
            lines.append(str(e.payload["detail"]))
        lines.append(_link(e, panel))
        return "\n".join(lines)
    groups: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for e in events:
        groups[(_kind(e), str(e.payload.get("event")))].append(e)
    lines = []
    for (kind, event), members in sorted(groups.items()):
        tablets = sorted({_tablet(e) for e in members})
        lines.append(f"{kind} {event}: {len(tablets)} tablet{'s' if len(tablets) != 1 else ''}")
        lines += [f"  {t}" for t in tablets[:LIST_MAX]]
        if len(tablets) > LIST_MAX:
            lines.append(f"  … and {len(tablets) - LIST_MAX} more")
    lines.append(f"{panel}/alerts")
    return "\n".join(lines)


def webhook_body(subscription_id: int, message_id: int, events: Sequence[Event]) -> bytes:
    """``{"v": 1, "message_id", "subscription_id", "events": [alert, …]}`` (each alert as on
    ``fleets/{id}/alerts``, with its fleet's name and car)."""
    body = {
        "v": 1,
        "message_id": message_id,
        "subscription_id": subscription_id,
        "events": [{**e.payload, "fleet_name": e.fleet_name, "car_id": e.car_id} for e in events],
    }
    return json.dumps(body, separators=(",", ":")).encode()
