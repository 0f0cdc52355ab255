"""The demo's local mail catcher: an SMTP server (aiosmtpd) that keeps what it is sent, and
an inbox page listing it, both on loopback (``fleethub up``; the panel's alert channels page
links to the inbox through ``FLEETHUB_DEMO_MAILBOX_URL``).

No mail leaves the machine: the hub's alert e-mails go to this server only.
"""

from __future__ import annotations

import html
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from broker.processes import free_port

KEEP = 200  # the newest mails shown


@dataclass(frozen=True, slots=True)
class Mail:
    at: datetime
    sender: str
    to: str
    subject: str
    body: str


class _Handler:
    def __init__(self, box: deque[Mail], lock: threading.Lock) -> None:
        self.box, self.lock = box, lock

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        mail = message_from_bytes(raw, policy=policy.default)
        part = mail.get_body(("plain",))
        body = part.get_content() if part is not None else ""
        with self.lock:
            self.box.appendleft(
                Mail(
                    datetime.now(UTC),
                    str(mail.get("From", envelope.mail_from)),
                    str(mail.get("To", ", ".join(envelope.rcpt_tos))),
                    str(mail.get("Subject", "")),
                    str(body),
                )
            )
        return "250 OK"


def _page(mails: list[Mail]) -> bytes:
    rows = "".join(
        f"<article><h2>{html.escape(m.subject)}</h2><p><small>{m.at:%Y-%m-%d %H:%M:%S} UTC"
        f" · from {html.escape(m.sender)} · to {html.escape(m.to)}</small></p>"
        f"<pre>{html.escape(m.body)}</pre></article>"
        for m in mails
    )
    empty = "" if mails else "<p>No mail yet.</p>"
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><meta http-equiv=refresh content=5>"
        "<title>Demo mailbox</title><style>body{font:15px system-ui;margin:2rem;max-width:60rem}"
        "article{border-bottom:1px solid #ccc}pre{white-space:pre-wrap}</style>"
        f"<h1>Demo mailbox <small>({len(mails)})</small></h1>{empty}{rows}</html>"
    ).encode()


class MailCatcher:
    """Start with :meth:`start`, stop with :meth:`stop`; ``smtp_port`` and ``url`` say where."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.smtp_port = free_port()
        self.http_port = free_port()
        self._box: deque[Mail] = deque(maxlen=KEEP)
        self._lock = threading.Lock()
        self._smtp = Controller(_Handler(self._box, self._lock), hostname=host, port=self.smtp_port)
        catcher = self

        class Inbox(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = _page(catcher.mails())
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer((host, self.http_port), Inbox)
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="mail-inbox", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}/"

    @property
    def smtp_url(self) -> str:
        return f"smtp://{self.host}:{self.smtp_port}"

    def mails(self) -> list[Mail]:
        with self._lock:
            return list(self._box)

    def start(self) -> MailCatcher:
        self._smtp.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._smtp.stop()
