"""Showing a secret once after a post/redirect/get: a set-password link, a device token.

The post that made the secret answers ``303`` to the page that shows it, with the secret in
a short-lived cookie scoped to that page's path (``HttpOnly``, ``SameSite=Strict``): it never
appears in a URL, a log or the browser's history. The page takes it and deletes the cookie,
so a reload shows it no more (the store keeps only its hash).
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

COOKIE = "fleethub_reveal"
LIFETIME_S = 300


def redirect_revealing(request: Request, url: str, secret: str) -> RedirectResponse:
    """A 303 to ``url`` (a path, perhaps with a query) carrying ``secret`` for its page."""
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        COOKIE,
        secret,
        max_age=LIFETIME_S,
        path=url.split("?", 1)[0],
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


def take(request: Request, response: Response) -> str | None:
    """The secret left for this page, if any; the response deletes it."""
    secret = request.cookies.get(COOKIE)
    if secret is not None:
        response.delete_cookie(COOKIE, path=request.url.path)
    return secret if secret and len(secret) <= 256 else None
