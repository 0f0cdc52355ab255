"""Showing one secret once after a post/redirect/get: a set-password link, a broker password,
a device token.

The post that made the secret answers ``303`` to the page that shows it; the secret rides
there in :mod:`web.http.flash`'s signed, short-lived cookie scoped to that page's path, so it
never appears in a URL, a log or the browser's history. The page shows it and drops the
cookie: a reload shows it no more (the store keeps only its hash).
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from web.http import flash

COOKIE = "fleethub_reveal"
LIFETIME_S = 300


def redirect_revealing(request: Request, url: str, secret: str) -> RedirectResponse:
    """A 303 to ``url`` (a path, perhaps with a query) carrying ``secret`` for its page."""
    response = RedirectResponse(url, status_code=303)
    flash.put(response, request, COOKIE, url.split("?", 1)[0], {"secret": secret}, LIFETIME_S)
    return response


def secret(request: Request) -> str | None:
    """The secret left for this page, if any (then :func:`clear` it on the response)."""
    value = flash.get(request, COOKIE)
    found = value.get("secret") if value else None
    return found if isinstance(found, str) else None


def clear(request: Request, response: Response) -> None:
    """The page showed the secret: the browser forgets it (a reload shows it no more)."""
    if COOKIE in request.cookies:
        flash.drop(response, COOKIE, request.url.path)
