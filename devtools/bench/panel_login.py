"""Signing a benchmark's client in to the panel as a browser does (the form's CSRF token)."""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlencode

SESSION_COOKIE = "fleethub_session"
LOGIN_CSRF_COOKIE = "fleethub_login_csrf"


def _cookie(response: http.client.HTTPResponse, name: str) -> str | None:
    for header in response.headers.get_all("set-cookie") or []:
        pair = header.split(";", 1)[0]
        if pair.startswith(f"{name}=") and pair != f"{name}=":
            return pair
    return None


def sign_in(port: int, email: str, password: str) -> str:
    """The session cookie (``fleethub_session=…``) of ``email`` on the panel at ``port``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/login")
        page = conn.getresponse()
        text = page.read().decode()
        login_cookie = _cookie(page, LOGIN_CSRF_COOKIE)
        token = re.search(r'name="csrf_token" value="([^"]+)"', text)
        if login_cookie is None or token is None:
            raise RuntimeError(f"no login form: {page.status}")
        body = urlencode({"email": email, "password": password, "csrf_token": token.group(1)})
        conn.request(
            "POST",
            "/login",
            body,
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": login_cookie},
        )
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    cookie = _cookie(response, SESSION_COOKIE)
    if response.status != 303 or cookie is None:
        raise RuntimeError(f"sign-in of {email} failed: {response.status}")
    return cookie
