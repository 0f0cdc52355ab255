"""What a user may see, in SQL: their tenant, and for a fleet owner only their fleets.

A query that joins ``fleets f`` adds :data:`IN_SCOPE` and runs with :func:`scope_params`;
a row outside the scope is not found, so nothing leaks whether it exists.
"""

from __future__ import annotations

from typing import Any

from store.users import User

IN_SCOPE = (
    "(f.tenant_id = %(tenant)s AND (%(fleets)s::text[] IS NULL OR f.fleet_id = ANY(%(fleets)s)))"
)


def scope_params(user: User, **extra: Any) -> dict[str, Any]:
    fleets = None if user.fleets is None else list(user.fleets)
    return {"tenant": user.tenant_id, "fleets": fleets, **extra}
