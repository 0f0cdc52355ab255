"""What a user may see: their tenant, and for a fleet owner only their fleets.

Every panel and API query joins ``fleets f`` and adds :data:`store.scope.IN_SCOPE` with
:func:`store.scope.scope_params`; a row outside the scope is reported as missing (404),
never as forbidden, so nothing leaks whether it exists.
"""

from __future__ import annotations

from store.scope import IN_SCOPE as IN_SCOPE  # the query side lives in the store
from store.scope import scope_params as scope_params
from store.users import User


def sees_fleet(user: User, tenant_id: str, fleet_id: str) -> bool:
    return tenant_id == user.tenant_id and (user.fleets is None or fleet_id in user.fleets)
