"""The demo's campaigns: example zones, an advertiser with its user, two running campaigns
each targeted at its zone; seeding again changes nothing."""

from __future__ import annotations

import uuid

from config.settings import Settings
from devtools import demo_campaigns
from store.users import add_tenant, add_user
from tests.conftest import TestFleetFactory
from tests.helpers import Conn as AsyncConn
from tests.web.conftest import PASSWORD


async def test_the_demo_campaigns_run_in_their_zones(
    aconn: AsyncConn, settings: Settings, fleet_factory: TestFleetFactory
) -> None:
    fleet = await fleet_factory(tablets=1, timezone="Asia/Singapore")
    tenant = f"demo-{uuid.uuid4().hex[:6]}"
    await add_tenant(aconn, tenant, "Demo", "test")
    await aconn.execute(
        "UPDATE fleets SET tenant_id = %s WHERE fleet_id = %s", (tenant, fleet.fleet_id)
    )
    email = f"adv-{tenant}@example.com"
    await add_user(
        aconn,
        tenant_id=tenant,
        email=email,
        name="Adv",
        role="advertiser",
        password=PASSWORD,
        fleets=[],
        actor="test",
    )
    first = await demo_campaigns.seed(aconn, settings, tenant, fleet.fleet_id, email)
    again = await demo_campaigns.seed(aconn, settings, tenant, fleet.fleet_id, email)
    assert first == again == ["acme-cbd-lunch", "acme-airport"]
    cur = await aconn.execute(
        "SELECT c.campaign_id, c.status, z.name FROM campaigns c"
        " JOIN campaign_zones cz USING (tenant_id, campaign_id)"
        " JOIN zones z ON z.tenant_id = cz.tenant_id AND z.zone_id = cz.zone_id"
        " WHERE c.tenant_id = %s ORDER BY 1",
        (tenant,),
    )
    assert await cur.fetchall() == [
        ("acme-airport", "running", "Changi Airport"),
        ("acme-cbd-lunch", "running", "Singapore CBD"),
    ]
    cur = await aconn.execute("SELECT count(*) FROM zones WHERE tenant_id = %s", (tenant,))
    assert await cur.fetchone() == (2,)
    cur = await aconn.execute(
        "SELECT ua.advertiser_id FROM user_advertisers ua JOIN users u USING (user_id)"
        " WHERE u.email = %s",
        (email,),
    )
    assert await cur.fetchone() == ("acme-travel",)
