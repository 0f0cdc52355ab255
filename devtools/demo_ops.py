"""The demo's device operations (``fleethub up``): the fleet owner's e-mail alerts, sent to
the demo's mail catcher (devtools/mail_catcher.py)."""

from __future__ import annotations

from devtools import demo
from store import alert_subscriptions, users
from store.alert_subscriptions import SubscriptionSpec
from store.db import open_pool

# What the demo owner hears about by e-mail (offline churn of the simulator left out).
KINDS = ("low_storage", "crash_loop", "app_outdated", "rollout_halted")


async def seed_alerts(database_url: str) -> None:
    """Subscribe the demo's fleet owner to e-mail alerts, once."""
    pool = open_pool(database_url)
    await pool.open()
    try:
        async with pool.connection() as conn:
            found = await users.with_password_hash(conn, demo.OWNER_EMAIL)
        if found is None:
            return
        owner = found[0]
        if await alert_subscriptions.mine(pool, owner):
            return
        spec = SubscriptionSpec("email", demo.OWNER_EMAIL, kinds=KINDS, timezone="Asia/Singapore")
        await alert_subscriptions.create(pool, owner, spec)
    finally:
        await pool.close()
