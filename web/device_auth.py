"""Tablets on the HTTP device API: ``Authorization: Bearer <device token>`` → the tablet.

A token acts only for its own tablet (device paths carry no tablet id). It must be
live, and so must its tablet; anything else is a 401 with ``WWW-Authenticate: Bearer``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg.rows import class_row

from hub.device_tokens import digest
from web.deps import PoolDep


@dataclass(frozen=True, slots=True)
class Device:
    tablet_id: str
    fleet_id: str
    tenant_id: str


LOOKUP = """
SELECT t.tablet_id, t.fleet_id, f.tenant_id
FROM device_tokens d
JOIN tablets t USING (tablet_id)
JOIN fleets f USING (fleet_id)
WHERE d.token_hash = %s AND d.revoked_at IS NULL AND t.revoked_at IS NULL
"""

device_bearer = HTTPBearer(
    auto_error=False, scheme_name="DeviceToken",
    description="a tablet's device token, from `fleethub tablet token TABLET_ID`",
)  # fmt: skip


async def current_device(
    pool: PoolDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(device_bearer)],
) -> Device:
    found = None
    if credentials is not None:
        async with pool.connection() as conn, conn.cursor(row_factory=class_row(Device)) as cur:
            await cur.execute(LOOKUP, (digest(credentials.credentials),))
            found = await cur.fetchone()
    if found is None:
        raise HTTPException(401, "a valid device token is required",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    return found


DeviceDep = Annotated[Device, Depends(current_device)]
