"""The alert channels: e-mail (SMTP, STARTTLS, AUTH), signed webhooks, Telegram's Bot API.

Each sends one message or raises :class:`SendFailed` with the reply code (SMTP or HTTP) and
whether another try may help (an HTTP 5xx, 408 or 429, an SMTP 4xx, a timeout or a refused
connection may; an HTTP 4xx, an SMTP 5xx or a channel that is not configured will not).
Nothing here retries: the notifier does.
"""

from __future__ import annotations

import json
import ssl
import time
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib
import httpx2 as httpx

from config.errors import HubError
from config.settings import Settings
from config.tls import client_context
from hub.notify import render
from hub.notify.signing import signature
from store.alert_outbox import Message


class SendFailed(HubError):
    def __init__(self, reason: str, code: int | None = None, retry: bool = True) -> None:
        super().__init__(reason)
        self.reason, self.code, self.retry = reason, code, retry


class Channels:
    """Sends a message through its subscription's channel (one HTTP client for all)."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self.panel = settings.panel_origin()

    async def send(self, message: Message) -> int | None:
        """Send it; the reply code. :class:`SendFailed` when it was not delivered."""
        channel = message.subscription.channel
        if channel == "email":
            return await self._email(message)
        if channel == "webhook":
            return await self._webhook(message)
        if channel == "telegram":
            return await self._telegram(message)
        raise SendFailed(f"unknown channel {channel!r}", retry=False)

    async def _email(self, message: Message) -> int:
        s = self.settings
        if s.smtp_url is None:
            raise SendFailed("e-mail is not configured (FLEETHUB_SMTP_URL)", retry=False)
        url = urlsplit(s.smtp_url.get_secret_value())
        mail = EmailMessage()
        mail["From"] = s.smtp_from
        mail["To"] = message.subscription.target
        mail["Subject"] = render.subject(message.events)
        mail["X-Fleethub-Message"] = str(message.message_id)
        mail.set_content(render.text(message.events, self.panel))
        tls: ssl.SSLContext | None = client_context(s.smtp_ca_file) if s.smtp_starttls else None
        try:
            errors, reply = await aiosmtplib.send(
                mail,
                hostname=url.hostname or "localhost",
                port=url.port or 587,
                username=unquote(url.username) if url.username else None,
                password=unquote(url.password) if url.password else None,
                start_tls=s.smtp_starttls,
                tls_context=tls,
                timeout=s.alert_send_timeout_s,
            )
        except aiosmtplib.SMTPResponseException as exc:  # 4xx: transient, 5xx: permanent
            raise SendFailed(f"SMTP {exc.code}: {exc.message}", exc.code, exc.code < 500) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendFailed(f"SMTP: {type(exc).__name__}: {exc}") from exc
        if errors:
            code, text = next(iter(errors.values()))
            raise SendFailed(f"SMTP refused the recipient: {code} {text}", code, code < 500)
        return int(reply.split(" ", 1)[0]) if reply[:3].isdigit() else 250

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        try:
            answer = await self.http.post(
                url,
                content=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=self.settings.alert_send_timeout_s,
            )
        except httpx.HTTPError as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc
        code = answer.status_code
        if code >= 300:
            retry = code >= 500 or code in (408, 429)
            raise SendFailed(f"HTTP {code}: {answer.text[:200]}", code, retry)
        return code

    async def _webhook(self, message: Message) -> int:
        sub = message.subscription
        body = render.webhook_body(sub.subscription_id, message.message_id, message.events)
        stamp = int(time.time())
        headers = {
            "X-Fleethub-Timestamp": str(stamp),
            "X-Fleethub-Signature": signature(sub.secret or "", stamp, body),
            "X-Fleethub-Message": str(message.message_id),
        }
        return await self._post(sub.target, body, headers)

    async def _telegram(self, message: Message) -> int:
        token = self.settings.telegram_bot_token
        if token is None:
            raise SendFailed(
                "Telegram is not configured (FLEETHUB_TELEGRAM_BOT_TOKEN)", None, False
            )
        base = self.settings.telegram_api_url.rstrip("/")
        text = render.subject(message.events) + "\n" + render.text(message.events, self.panel)
        body = {"chat_id": message.subscription.target, "text": text[:4000]}
        url = f"{base}/bot{token.get_secret_value()}/sendMessage"
        return await self._post(url, json.dumps(body).encode(), {})
