"""Tablets on the HTTP device API: ``Authorization: Bearer <device token>`` → the tablet.

A token acts only for its own tablet (device paths carry no tablet id). It must be
live, and so must its tablet; anything else is a 401 with ``WWW-Authenticate: Bearer``.

Every request checks the token in the store, so a revocation counts from the next
request. While the store is away, a token the store confirmed within
``device_token_grace_s`` is still taken (:class:`VerifiedDevices`, which keeps only token
hashes): an HTTP-only tablet's heartbeats need only the broker, and refusing them would
make the hub see the tablet go offline. Other tokens get 503 + ``Retry-After``, never 401.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from store import device_tokens
from store.device_tokens import Device, digest
from web.deps import PoolDep


class VerifiedDevices:
    """Token hashes the store confirmed, with when: the answer while the store is away."""

    def __init__(self, grace_s: float, max_entries: int = 100_000) -> None:
        self.grace_s, self.max_entries = grace_s, max_entries
        self._seen: OrderedDict[str, tuple[Device, float]] = OrderedDict()

    def confirmed(self, token_hash: str, device: Device) -> None:
        self._seen[token_hash] = (device, time.monotonic())
        self._seen.move_to_end(token_hash)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)

    def refused(self, token_hash: str) -> None:
        self._seen.pop(token_hash, None)

    def forget(self, tablet_id: str) -> None:
        """The tablet was revoked (by this panel): none of its tokens count any more."""
        for token_hash in [h for h, (d, _) in self._seen.items() if d.tablet_id == tablet_id]:
            del self._seen[token_hash]

    def recent(self, token_hash: str) -> Device | None:
        found = self._seen.get(token_hash)
        if found is None or time.monotonic() - found[1] > self.grace_s:
            return None
        return found[0]


def get_verified_devices(request: Request) -> VerifiedDevices:
    verified: VerifiedDevices = request.app.state.verified_devices
    return verified


VerifiedDevicesDep = Annotated[VerifiedDevices, Depends(get_verified_devices)]

device_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="DeviceToken",
    description="a tablet's device token, from `fleethub tablet token TABLET_ID`",
)


async def current_device(
    pool: PoolDep,
    verified: VerifiedDevicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(device_bearer)],
) -> Device:
    unauthorized = HTTPException(
        401, "a valid device token is required", headers={"WWW-Authenticate": "Bearer"}
    )
    if credentials is None:
        raise unauthorized
    token_hash = digest(credentials.credentials)
    try:
        async with pool.connection() as conn:
            found = await device_tokens.device(conn, token_hash)
    except psycopg.OperationalError:
        recent = verified.recent(token_hash)
        if recent is None:
            raise  # answered 503 + Retry-After (web/app.py)
        return recent
    if found is None:
        verified.refused(token_hash)
        raise unauthorized
    verified.confirmed(token_hash, found)
    return found


DeviceDep = Annotated[Device, Depends(current_device)]
