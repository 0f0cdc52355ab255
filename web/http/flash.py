"""A secret shown once after a post/redirect/get: a signed, short-lived, path-scoped cookie.

A form that makes a secret (a personal API token, a pairing claim code) redirects to its
page instead of rendering it, so a reload never offers to post the form again; the secret
rides to that page in an HttpOnly cookie signed with the panel's key (a forged or altered
one is ignored) and scoped to the page's path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from fastapi import Request, Response

from config.settings import Settings


def _sign(key: str, body: str) -> str:
    mac = hmac.new(key.encode(), b"fleethub flash v1|" + body.encode(), hashlib.sha256)
    return mac.hexdigest()


def put(
    response: Response, request: Request, name: str, path: str, value: dict[str, Any], max_age: int
) -> None:
    """Carry ``value`` to the next GET of ``path`` (for at most ``max_age`` seconds)."""
    body = base64.urlsafe_b64encode(json.dumps(value, default=str).encode()).decode()
    settings: Settings = request.app.state.settings
    response.set_cookie(
        name,
        f"{body}.{_sign(request.app.state.secret_key, body)}",
        max_age=max_age,
        path=path,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
    )


def get(request: Request, name: str) -> dict[str, Any] | None:
    """The value :func:`put` left, when its signature holds."""
    raw = request.cookies.get(name, "")
    body, _, mac = raw.partition(".")
    if not body or len(raw) > 4000:
        return None
    if not hmac.compare_digest(mac.encode(), _sign(request.app.state.secret_key, body).encode()):
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def drop(response: Response, name: str, path: str) -> None:
    response.delete_cookie(name, path=path)
