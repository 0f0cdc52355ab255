"""Signed, single-use upload URLs of screenshots (the ``screenshot`` command).

The hub puts one in each tablet's ``screenshot`` command: ``PUT
{panel}/v1/device/screenshots/{command_id}?tablet=…&expires=…&sig=…``, signed with the media
key (media/tokens.py: the hub and the panel share it) over the command, the tablet and the
expiry (the command's). The panel accepts one upload per command and tablet: the URL is
single-use because the store keeps one screenshot per (command, tablet).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import urlencode

from media.tokens import SIG_HEX, Verdict


def _sig(key: bytes, command_id: str, tablet_id: str, expires: int) -> str:
    message = "\0".join(("screenshot", command_id, tablet_id, str(expires))).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:SIG_HEX]


def upload_url(key: bytes, base: str, command_id: str, tablet_id: str, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    query = urlencode(
        {"tablet": tablet_id, "expires": expires, "sig": _sig(key, command_id, tablet_id, expires)}
    )
    return f"{base}/v1/device/screenshots/{command_id}?{query}"


def check(
    key: bytes, command_id: str, tablet_id: str, expires: str, sig: str, now: datetime
) -> Verdict:
    if not expires.isdigit() or len(expires) > 12 or len(sig) != SIG_HEX:
        return "invalid"
    if not hmac.compare_digest(_sig(key, command_id, tablet_id, int(expires)), sig):
        return "invalid"
    if int(expires) <= now.timestamp():
        return "expired"
    return "ok"
