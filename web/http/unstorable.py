"""Text PostgreSQL cannot store is refused at the door, for every route at once.

PostgreSQL's text refuses the NUL character, and a lone UTF-16 surrogate (which JSON's
``\\ud800`` escapes can carry) has no UTF-8 form at all: either, reaching a query, is a
store error and was a 500. :class:`RejectUnstorable` (pure ASGI) looks at the decoded
path, the query parameters and the body of JSON, urlencoded and multipart requests
before any route runs, and answers 422 naming the place. The body is read once and
handed on unchanged.

Two kinds of body are left to their route's own validators: the MQTT twins'
(``/v1/device/heartbeat`` and ``/v1/device/events``), so that a batch is judged event by
event over HTTP exactly as over MQTT, and the public lead form's (``/l/{code}``), which
refuses control characters field by field with a message next to the field.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.http.templating import TEMPLATES

OWN_VALIDATORS = ("/v1/device/heartbeat", "/v1/device/events")


def _own_validators(path: str) -> bool:
    return path in OWN_VALIDATORS or path.startswith("/l/")


def unstorable(text: str) -> bool:
    """True when PostgreSQL's text cannot hold it (NUL or a lone surrogate)."""
    return "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text)


def _in_json(node: Any) -> bool:
    if isinstance(node, str):
        return unstorable(node)
    if isinstance(node, dict):
        return any(unstorable(k) or _in_json(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_in_json(v) for v in node)
    return False


def _in_pairs(raw: str) -> str | None:
    for key, value in parse_qsl(raw, keep_blank_values=True, errors="replace"):
        if unstorable(key) or unstorable(value):
            return key
    return None


def _in_body(content_type: str, body: bytes) -> bool:
    if "json" in content_type:
        try:
            return _in_json(json.loads(body))
        except ValueError:  # not JSON (or not UTF-8): the route answers 422 itself
            return False
    if content_type.startswith("application/x-www-form-urlencoded"):
        return _in_pairs(body.decode("latin-1")) is not None
    if content_type.startswith("multipart/form-data"):
        return b"\x00" in body  # the panel takes no file uploads: every part is text
    return False


class RejectUnstorable:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = None
        if unstorable(scope["path"]):
            where = "the path"
        elif (key := _in_pairs(scope["query_string"].decode("latin-1"))) is not None:
            where = f"the query parameter {key!r}"
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        has_body = scope["method"] in ("POST", "PUT", "PATCH", "DELETE")
        if where is None and has_body and not _own_validators(scope["path"]):
            body, more = await _read(receive)
            if not more and _in_body(content_type, body):
                where = "the request body"
            receive = _replay(body, more, receive)
        if where is None:
            await self.app(scope, receive, send)
            return
        await _refuse(scope, where)(scope, receive, send)


async def _read(receive: Receive, limit: int = 1024 * 1024) -> tuple[bytes, bool]:
    """The body up to ``limit`` bytes; ``more``: it is longer (the route's own cap refuses it)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body), False
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body), False
        if len(body) > limit:
            return bytes(body), True


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": more}

    return replay


def _refuse(scope: Scope, where: str) -> Response:
    detail = f"{where} holds a NUL character or a lone surrogate, which cannot be stored"
    request = Request(scope)
    path = scope["path"]
    wants_html = "text/html" in request.headers.get("accept", "")
    if path.startswith(("/api/", "/v1/")) or not wants_html:
        return JSONResponse({"detail": detail}, status_code=422)
    context = {"login": None, "status": 422, "title": "Not accepted", "detail": detail}
    return TEMPLATES.TemplateResponse(request, "error.html", context, status_code=422)
