"""Campaign objects of a tenant for the panel's tests: an advertiser account with a signed-up
advertiser user, and a campaign (tests/hub/campaign_helpers.py) of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from config.settings import Settings
from store import advertisers
from store.users import add_user
from tests.helpers import store
from tests.hub.campaign_helpers import Made, make_campaign
from tests.web.conftest import PASSWORD, Conn, Tenant


@dataclass(frozen=True)
class Account:
    advertiser_id: str
    email: str  # its advertiser user


def advertiser(conn: Conn, tenant: Tenant, label: str = "adv") -> Account:
    tag = uuid.uuid4().hex[:6]
    advertiser_id, email = f"{label}-{tag}", f"{label}-{tag}@example.com"

    async def add(aconn: Conn) -> None:  # type: ignore[type-arg]
        await advertisers.add(aconn, tenant.tenant_id, advertiser_id, f"{label} {tag}", "test")
        await add_user(
            aconn,
            tenant_id=tenant.tenant_id,
            email=email,
            name=f"Advertiser {tag}",
            role="advertiser",
            password=PASSWORD,
            fleets=[],
            actor="test",
        )
        await advertisers.link_user(aconn, tenant.tenant_id, advertiser_id, email, "test")

    store(conn, add)
    return Account(advertiser_id, email)


def campaign_of(
    conn: Conn, settings: Settings, tenant: Tenant, account: Account, **kw: object
) -> Made:
    return store(
        conn,
        lambda aconn: make_campaign(
            aconn,
            settings,
            tenant.tenant_id,
            advertiser_id=account.advertiser_id,
            **kw,  # type: ignore[arg-type]
        ),
    )
