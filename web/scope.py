"""What a user may see: their tenant, and for a fleet owner only their fleets.

Every panel and API query joins ``fleets f`` and adds :data:`store.scope.IN_SCOPE` with
:func:`store.scope.scope_params`; a row outside the scope is reported as missing (404),
never as forbidden, so nothing leaks whether it exists.
"""

from __future__ import annotations

from store.users import User


def sees_fleet(user: User, tenant_id: str, fleet_id: str) -> bool:
    return tenant_id == user.tenant_id and (user.fleets is None or fleet_id in user.fleets)
