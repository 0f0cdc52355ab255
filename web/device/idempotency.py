"""``Idempotency-Key`` on every device POST (docs/mqtt-contract.md, "HTTP fallback").

A tablet that lost an answer sends the same request again with the same key: within
24 h it gets the first answer again (``Idempotent-Replayed: true``) and nothing happens
twice. The key is scoped to the tablet and the route (a claim: to its claim code); the
same key with another body is refused (422), and one whose first request is still
running answers 409 with ``Retry-After``. Only a 2xx answer is kept: a request that failed
runs again when retried. A claim's answer holds the tablet's secrets: it is kept sealed
(AES-GCM) with a key derived from the claim code and the ``Idempotency-Key``, neither of
which the store keeps, so only the tablet that sent them can have it replayed.
"""

from __future__ import annotations

import hashlib
import os
import re

import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import HTTPException, Request, Response
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from store import idempotency

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as the header can carry it
NONCE_BYTES = 12
STORE_DOWN = (psycopg.OperationalError, PoolTimeout)


def key_of(request: Request) -> str | None:
    """The request's ``Idempotency-Key``; 400 when it is not 1–255 visible ASCII characters."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY.fullmatch(key):
        raise HTTPException(400, f"{HEADER} must be 1 to 255 visible ASCII characters")
    return key


class Sealed:
    """AES-GCM under a key derived from secrets the tablet holds (the claim code and the
    ``Idempotency-Key``)."""

    def __init__(self, *secrets: str) -> None:
        material = b"\x00".join(s.encode() for s in secrets)
        hkdf = HKDF(SHA256(), length=32, salt=None, info=b"fleethub device answer")
        self._aead = AESGCM(hkdf.derive(material))

    def seal(self, plain: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plain, None)

    def open(self, sealed: bytes) -> bytes:
        return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], None)


class Idempotent:
    """One request under an ``Idempotency-Key``: :meth:`begin`, then :meth:`finish` or
    :meth:`release`."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        scope: str,
        key: str,
        body: bytes,
        sealed: Sealed | None = None,
    ) -> None:
        self._pool, self._scope, self._key = pool, scope, key
        self._hash = hashlib.sha256(body).digest()
        self._sealed = sealed
        self.taken = False

    async def begin(self) -> Response | None:
        """The stored answer to replay, or None: this request runs (raises 409/422)."""
        async with self._pool.connection() as conn:
            begun = await idempotency.begin(conn, self._scope, self._key, self._hash)
        if begun.outcome == "first":
            self.taken = True
            return None
        if begun.outcome == "mismatch":
            raise HTTPException(422, f"this {HEADER} was used for a different request")
        if begun.outcome == "in_progress":
            raise HTTPException(
                409,
                f"a request with this {HEADER} is in progress: retry shortly",
                headers={"Retry-After": "1"},
            )
        assert begun.answer is not None
        assert begun.status is not None
        answer = begun.answer if self._sealed is None else self._sealed.open(begun.answer)
        return Response(
            answer,
            begun.status,
            headers={REPLAYED: "true"},
            media_type="application/json",
        )

    async def finish(self, status: int, answer: bytes) -> None:
        if not self.taken:
            return
        kept = answer if self._sealed is None else self._sealed.seal(answer)
        async with self._pool.connection() as conn:
            await idempotency.finish(conn, self._scope, self._key, status, kept)

    async def release(self) -> None:
        """The request failed: a retry with the key runs again."""
        if not self.taken:
            return
        async with self._pool.connection() as conn:
            await idempotency.release(conn, self._scope, self._key)
