"""Signed, expiring, per-tablet download tokens for ``GET /media/{sha256}``.

The hub signs them into each manifest's download URLs; the panel checks them. A token is
``tablet``, ``tenant``, ``expires`` (Unix seconds) and ``sig``: HMAC-SHA256 over the three
under the media key, which both processes derive from ``FLEETHUB_SECRET_KEY`` (or, in local
mode, keep in ``var_dir/media.secret``). It lets that one tablet fetch any file of its
tenant's library until it expires; naming the tenant spares the panel a lookup per request.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from datetime import datetime
from typing import Literal
from urllib.parse import urlencode

from config.settings import Settings

SIG_HEX = 32
Verdict = Literal["ok", "expired", "invalid"]


def media_key(settings: Settings) -> bytes:
    """The key download tokens are signed with, the same in the hub and the panel."""
    if settings.secret_key is not None:
        secret = settings.secret_key.get_secret_value().encode()
        return hmac.new(secret, b"fleethub media downloads", hashlib.sha256).digest()
    path = settings.var_dir / "media.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # the other process wrote it first
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _sig(key: bytes, tablet_id: str, tenant_id: str, expires: int) -> str:
    message = "\0".join(("media", tablet_id, tenant_id, str(expires))).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:SIG_HEX]


def token_query(key: bytes, tablet_id: str, tenant_id: str, expires_at: datetime) -> str:
    """The query string of a tablet's download URLs."""
    expires = int(expires_at.timestamp())
    sig = _sig(key, tablet_id, tenant_id, expires)
    return urlencode({"tablet": tablet_id, "tenant": tenant_id, "expires": expires, "sig": sig})


def check(
    key: bytes, tablet_id: str, tenant_id: str, expires: str, sig: str, now: datetime
) -> Verdict:
    """Whether a token is genuine (not tampered) and not expired."""
    if not expires.isdigit() or len(expires) > 12 or len(sig) != SIG_HEX:
        return "invalid"
    if not hmac.compare_digest(_sig(key, tablet_id, tenant_id, int(expires)), sig):
        return "invalid"
    if int(expires) <= now.timestamp():
        return "expired"
    return "ok"
