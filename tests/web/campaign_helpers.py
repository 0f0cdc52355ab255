"""Campaign objects of a tenant for the panel's tests: an advertiser account with a signed-up
advertiser user, and a campaign (tests/hub/campaign_helpers.py) of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from actors.rules.geo import parse_zone
from config.settings import Settings
from store import advertisers, zones
from store import campaigns as campaign_store
from store.campaigns import Scope, Spec
from store.users import add_user
from tests.helpers import Conn as AsyncConn
from tests.helpers import store
from tests.hub.campaign_helpers import CBD_RING, Made, make_campaign, polygon
from tests.web.conftest import PASSWORD, Conn, Tenant


@dataclass(frozen=True)
class Account:
    advertiser_id: str
    email: str  # its advertiser user


def advertiser(conn: Conn, tenant: Tenant, label: str = "adv") -> Account:
    tag = uuid.uuid4().hex[:6]
    advertiser_id, email = f"{label}-{tag}", f"{label}-{tag}@example.com"

    async def add(aconn: AsyncConn) -> None:
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


def their_campaign_objects(conn: Conn, tenant: Tenant, ids: dict[str, str]) -> dict[str, str]:
    """``tenant``'s advertiser, zone and running campaign — of the id of its lead campaign
    (``ids["campaign_id"]``: one campaign id names both) playing its media ``ids["media_id"]``,
    keyed by the routes' parameter names."""
    tag = uuid.uuid4().hex[:6]
    advertiser_id = f"their-adv-{tag}"

    async def add(aconn: AsyncConn) -> str:
        await advertisers.add(
            aconn, tenant.tenant_id, advertiser_id, f"Their advertiser {tag}", "t"
        )
        shape = parse_zone(polygon(CBD_RING))
        zone_id = await zones.add(
            aconn, tenant.tenant_id, f"Their zone {tag}", shape, "upload", "t"
        )
        now = datetime.now(UTC)
        spec = Spec(
            campaign_id=ids["campaign_id"],
            advertiser_id=advertiser_id,
            name=f"Their ad campaign {tag}",
            timezone="UTC",
            flight_start=now - timedelta(hours=1),
            flight_end=now + timedelta(days=3),
            fleets=(tenant.fleets[0],),
            zones=(zone_id,),
            creatives=(ids["media_id"],),
        )
        await campaign_store.save(aconn, Scope(tenant.tenant_id), spec, "t", create=True)
        await campaign_store.act(aconn, tenant.tenant_id, spec.campaign_id, "approve", "t", now)
        return zone_id

    zone_id = store(conn, add)
    return {"advertiser_id": advertiser_id, "zone_id": zone_id}
