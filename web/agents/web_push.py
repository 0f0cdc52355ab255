"""Web Push for agents: the VAPID key pair and the browsers' push subscriptions.

The key is ``vapid_private_key`` when set (PEM, or base64url of the raw 32-byte or DER key),
else one P-256 key generated once and kept in ``var_dir/vapid.pem`` (mode 600). Browsers
subscribe with its public key (``applicationServerKey``); pushes are signed with it
(web/agents/push_sender.py).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from config.errors import ConfigError
from config.settings import Settings
from store import web_push as pushes
from store.users import User

B64URL = r"^[A-Za-z0-9_-]+={0,2}$"
MAX_SUBSCRIPTIONS = 20  # per agent: old browsers beyond this are forgotten


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class VapidKey:
    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_key(self) -> str:
        """The uncompressed P-256 point, base64url: the browser's ``applicationServerKey``."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)


def _parse(text: str) -> ec.EllipticCurvePrivateKey:
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = b64url_decode(re.sub(r"\s", "", text))
            key = (
                ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
                if len(raw) == 32
                else serialization.load_der_private_key(raw, password=None)
            )
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ConfigError(f"FLEETHUB_VAPID_PRIVATE_KEY is not a usable key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConfigError("FLEETHUB_VAPID_PRIVATE_KEY must be a P-256 (prime256v1) EC key")
    return key


def vapid_key(settings: Settings) -> VapidKey:
    """The configured key, else the one kept in ``var_dir/vapid.pem`` (made on first use)."""
    if settings.vapid_private_key is not None:
        return VapidKey(_parse(settings.vapid_private_key.get_secret_value()))
    path = settings.var_dir / "vapid.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(path, pem)
    return VapidKey(_parse(path.read_text()))


def _write_private(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    with os.fdopen(fd, "wb") as f:
        f.write(data)


# --- subscriptions ----------------------------------------------------------------------------


class SubscriptionKeys(BaseModel):
    p256dh: str = Field(min_length=80, max_length=100, pattern=B64URL)
    auth: str = Field(min_length=16, max_length=32, pattern=B64URL)


class SubscriptionIn(BaseModel):
    """What ``PushSubscription.toJSON()`` gives in the browser."""

    endpoint: str = Field(min_length=12, max_length=2048, pattern=r"^https?://\S+$")
    keys: SubscriptionKeys


class EndpointIn(BaseModel):
    endpoint: str = Field(min_length=12, max_length=2048)


async def subscribe(pool: AsyncConnectionPool, user: User, sub: SubscriptionIn) -> None:
    """Store (or move to this agent) a browser's subscription.

    Raises :class:`SubscriptionTaken` when another tenant's agent holds the endpoint.
    """
    async with pool.connection() as conn:
        await pushes.subscribe(
            conn,
            user.user_id,
            user.tenant_id,
            sub.endpoint,
            sub.keys.p256dh,
            sub.keys.auth,
            MAX_SUBSCRIPTIONS,
        )


async def unsubscribe(pool: AsyncConnectionPool, user: User, endpoint: str) -> bool:
    """Forget this agent's subscription; False when it was not theirs."""
    async with pool.connection() as conn:
        return await pushes.unsubscribe(conn, user.user_id, endpoint)


async def count(pool: AsyncConnectionPool, user: User) -> int:
    async with pool.connection() as conn:
        return await pushes.count(conn, user.user_id)
