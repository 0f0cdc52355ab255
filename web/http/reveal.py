"""Showing a secret once after a post/redirect/get: a set-password link, a device token.

The post that made the secret answers ``303`` to the page that shows it, with the secret in
a short-lived cookie scoped to that page's path (``HttpOnly``, ``SameSite=Strict``): it never
appears in a URL, a log or the browser's history. The page shows it and deletes the cookie,
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


def secret(request: Request) -> str | None:
    """The secret left for this page, if any (then :func:`clear` it on the response)."""
    value = request.cookies.get(COOKIE)
    return value if value and len(value) <= 256 else None


def clear(request: Request, response: Response) -> None:
    """The page showed the secret: the browser forgets it (a reload shows it no more)."""
    if COOKIE in request.cookies:
        response.delete_cookie(COOKIE, path=request.url.path)
