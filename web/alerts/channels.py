"""Reading a posted alert subscription: channel, address, filters, quiet hours, digest."""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.durations import parse_duration
from config.errors import ConfigError
from hub.notify.signing import new_secret
from store.alert_subscriptions import SubscriptionSpec
from store.incidents import ALERT_WORDS
from web.manage.fields import Fields

CHANNELS = {"email": "E-mail", "webhook": "Webhook (signed)", "telegram": "Telegram chat"}
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")
URL = re.compile(r"^https?://[^\s]{1,2000}$")
CHAT = re.compile(r"^(-?\d{1,20}|@[A-Za-z0-9_]{5,64})$")
MAX_DIGEST_S = 86_400


def _clock(fields: Fields, name: str, label: str) -> time | None:
    text = fields.text(name, label, 5)
    if not text:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{label}: a time like 22:00") from None


def read_subscription(fields: Fields) -> SubscriptionSpec:
    """The posted subscription; :class:`ConfigError` naming the field that cannot be used."""
    channel = fields.required("channel", "Channel", 16)
    if channel not in CHANNELS:
        raise ConfigError("Channel: e-mail, webhook or Telegram")
    target = fields.required("target", "Address", 2000)
    if channel == "email" and not EMAIL.match(target):
        raise ConfigError("Address: an e-mail address like ops@example.com")
    if channel == "webhook" and not URL.match(target):
        raise ConfigError("Address: an http:// or https:// URL")
    if channel == "telegram" and not CHAT.match(target):
        raise ConfigError("Address: a Telegram chat id (-1001234567890) or @channel")
    kinds = fields.texts("kinds", "Kinds", 32, len(ALERT_WORDS))
    if any(k not in ALERT_WORDS for k in kinds):
        raise ConfigError("Kinds: only the kinds listed")
    quiet_from = _clock(fields, "quiet_from", "Quiet from")
    quiet_until = _clock(fields, "quiet_until", "Quiet until")
    if (quiet_from is None) != (quiet_until is None):
        raise ConfigError("Quiet hours: give both times, or neither")
    zone = fields.text("timezone", "Time zone", 64) or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"Time zone: {zone[:64]!r} is not a time zone") from None
    digest_text = fields.text("digest", "Digest", 16)
    digest_s = parse_duration(digest_text) if digest_text else 0
    if digest_s > MAX_DIGEST_S:
        raise ConfigError("Digest: at most 24 hours")
    return SubscriptionSpec(
        channel=channel,
        target=target.lower() if channel == "email" else target,
        fleets=tuple(fields.texts("fleets", "Fleets", 64)),
        kinds=tuple(kinds),
        quiet_from=quiet_from,
        quiet_until=quiet_until,
        timezone=zone,
        digest_s=digest_s,
        secret=new_secret() if channel == "webhook" else None,
    )
