"""What a user may see in a query: their tenant, and for a fleet owner only their fleets.

Every scoped query joins ``fleets f`` and adds :data:`IN_SCOPE` with
:func:`scope_params`; a row outside the scope is reported as missing (404),
never as forbidden, so nothing leaks whether it exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # store.users records to the audit log, which reads through this scope
    from store.users import User

IN_SCOPE = (
    "(f.tenant_id = %(tenant)s AND (%(fleets)s::text[] IS NULL OR f.fleet_id = ANY(%(fleets)s)))"
)


def scope_params(user: User, **extra: Any) -> dict[str, Any]:
    fleets = None if user.fleets is None else list(user.fleets)
    return {"tenant": user.tenant_id, "fleets": fleets, **extra}
