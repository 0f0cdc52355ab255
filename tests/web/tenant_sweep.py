"""The tenant sweep's parts: one case per route of the app, and the rows a tenant owns.

Every (method, path) of the app's route table needs an entry in :data:`CASES` (a new route
without one fails the sweep, a stale entry too). A case fills the path, the query and the
body with the other tenant's ids (``{fleet_id}``) or the user's own (``{my_fleet_id}``);
:data:`SKIPPED` names the few routes the sweep cannot drive, each with where it is tested.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from tests.web.conftest import Conn

Form = dict[str, str | list[str]]


@dataclass(frozen=True)
class Case:
    """One request: the path parameters (default: the other tenant's object of that name),
    query, form (a panel form: the CSRF token is added) or JSON body."""

    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    form: Form | None = None
    json: Any = None
    device: bool = False  # authenticated by the user's tablet's device token, not a user


ITEM = {
    "ad_id": "ad-x",
    "campaign_id": "c-x",
    "url": "https://cdn.example/x.mp4",
    "sha256": "ab" * 32,
    "duration_ms": 15_000,
    "position": 0,
}
# The other tenant's playlist, typed in by this tenant: the same content address.
ITEM_FORM: Form = {
    "ad_id": "ad-x",
    "campaign_id": "c-x",
    "url": "https://cdn.example/x.mp4",
    "sha256": "ab" * 32,
    "duration_ms": "15000",
}
THEIR_TARGETS = ["fleet:{fleet_id}", "car:{car_id}", "tablet:{tablet_id}"]
PUSH_FORM: Form = {
    "source": "library",
    "playlist_id": "{playlist_id}",
    "scope": "selected",
    "fleet": "{fleet_id}",
    "cars": "{car_id}",
    "tablets": "{tablet_id}",
    "expires": "60",
    "reason": "sweep",
    "push_id": "{push_id}",
}
PUSH_INLINE: Form = {
    "source": "inline",
    "items": json.dumps(ITEM),
    "scope": "selected",
    "fleet": "{my_fleet_id}",
    "expires": "60",
    "reason": "sweep",
    "push_id": "{push_id}",
}
ATTRIBUTION: Form = {"fleet_id": "{fleet_id}", "car_id": "{car_id}", "tablet_id": "{tablet_id}"}
SUBSCRIPTION = {"endpoint": "{endpoint}", "keys": {"p256dh": "B" * 87, "auth": "A" * 22}}
FLEET_Q = {"fleet": "{fleet_id}", "q": "{tablet_id}"}
REPORT_Q = {"fleet": "{fleet_id}", "campaign_id": "{campaign_id}"}
MINE = {"fleet_id": "{my_fleet_id}"}
MONTH = {"month": "{month}"}
MY_DRIVER = {"driver_id": "{my_driver_id}"}
CARD_FORM: Form = {
    "valid_from": "2030-01-01",
    "default_basis": "play_second",
    "default_rate": "0.002",
    "online_hour_rate": "0.5",
    "platform_share": "40",
    "owner_share": "45",
    "driver_share": "15",
    "campaign_id": "{campaign_id}",
    "campaign_rate": "1",
    "campaign_basis": "play_second",
}

ZONE = {
    "type": "Polygon",
    "coordinates": [[[103.84, 1.27], [103.86, 1.27], [103.86, 1.29], [103.84, 1.27]]],
}
# A campaign named with the other tenant's ids: its advertiser, fleet, zone and media.
CAMPAIGN_FORM: Form = {
    "campaign_id": "{campaign_id}",
    "advertiser_id": "{advertiser_id}",
    "name": "Sweep campaign",
    "timezone": "UTC",
    "flight_start": "2030-01-01T00:00",
    "flight_end": "2030-02-01T00:00",
    "fleet": "{fleet_id}",
    "zone": "{zone_id}",
    "creative": "{media_id}",
}
ROLLOUT: Form = {
    "fleet": "{fleet_id}",
    "app_version": "9.9.9",
    "package_url": "https://apps.example/sweep.apk",
    "sha256": "ef" * 32,
    "waves": "50, 100",
    "soak": "10m",
}

CASES: dict[str, tuple[Case, ...]] = {
    "GET /healthz": (Case(),),
    "GET /favicon.ico": (Case(),),
    "GET /profile": (Case(),),
    "POST /profile/timezone": (Case(form={"timezone": "Asia/Singapore"}),),
    "POST /profile/tokens": (Case(form={"name": "sweep", "lifetime": "30d"}),),
    "POST /profile/tokens/{token_id}/revoke": (Case(form={}),),
    "GET /grid/fragment": (Case(query=FLEET_Q),),
    "GET /metrics": (Case(),),
    "GET /login": (Case(query={"next": "/tablets/{tablet_id}"}),),
    "GET /": (Case(query=FLEET_Q),),
    "GET /api/v1/fleets": (Case(),),
    "GET /api/v1/tablets": (Case(query=FLEET_Q),),
    "GET /api/v1/tablets/{tablet_id}": (Case(),),
    "GET /tablets/{tablet_id}": (Case(),),
    "GET /api/v1/tablets/{tablet_id}/heartbeats": (Case(),),
    "GET /api/v1/tablets/{tablet_id}/transitions": (Case(),),
    "GET /api/v1/tablets/{tablet_id}/incidents": (Case(),),
    "GET /alerts": (Case(query={"fleet": "{fleet_id}"}),),
    "GET /alerts/open": (Case(query={"fleet": "{fleet_id}"}),),
    "POST /alerts/{incident_id}/ack": (Case(form={"fleet": "{fleet_id}"}),),
    "POST /alerts/{incident_id}/notes": (Case(form={"body": "sweep", "fleet": "{fleet_id}"}),),
    "GET /api/v1/incidents": (Case(query={"fleet": "{fleet_id}"}),),
    "GET /api/v1/incidents/{incident_id}": (Case(),),
    "POST /api/v1/incidents/{incident_id}/ack": (Case(),),
    "POST /api/v1/incidents/{incident_id}/notes": (Case(json={"body": "sweep"}),),
    "GET /alerts/channels": (Case(),),
    "POST /alerts/channels": (
        Case(form={"channel": "email", "target": "sweep@example.com", "fleets": ["{fleet_id}"]}),
        Case(form={"channel": "email", "target": "sweep@example.com"}),
    ),
    "POST /alerts/channels/{subscription_id}/remove": (Case(form={}),),
    "GET /commands": (Case(),),
    "POST /commands": (
        Case(form={"name": "screenshot", "fleet": "{fleet_id}"}),
        Case(form={"name": "screenshot", "tablets": "{tablet_id} {my_tablet_id}"}),
        Case(form={"name": "screenshot", "tablets": "{my_tablet_id}"}),
    ),
    "POST /commands/roles": (Case(form={"allowed": ["reboot", "screenshot"]}),),
    "GET /commands/{command_id}": (Case(),),
    "GET /commands/{command_id}/progress": (Case(),),
    "GET /commands/{command_id}/screenshots/{tablet_id}": (Case(),),
    "POST /tablets/{tablet_id}/commands": (Case(form={"name": "screenshot"}),),
    "GET /api/v1/commands": (Case(query={"tablet": "{tablet_id}"}),),
    "GET /api/v1/commands/{command_id}": (Case(),),
    "POST /api/v1/commands": (
        Case(json={"name": "screenshot", "fleet": "{fleet_id}"}),
        Case(json={"name": "screenshot", "tablets": ["{tablet_id}"]}),
        Case(json={"name": "screenshot", "tablets": ["{my_tablet_id}"]}),
    ),
    # A signed link of the other tenant's command, without its signature: 403, nothing kept.
    "PUT /v1/device/screenshots/{command_id}": (
        Case(query={"tablet": "{tablet_id}", "expires": "4102444800", "sig": "0" * 32}),
    ),
    "GET /rollouts": (Case(),),
    "POST /rollouts": (Case(form=ROLLOUT), Case(form={**ROLLOUT, "fleet": "{my_fleet_id}"})),
    "GET /rollouts/{rollout_id}": (Case(),),
    "GET /rollouts/{rollout_id}/progress": (Case(),),
    "POST /rollouts/{rollout_id}/halt": (Case(form={}),),
    "POST /rollouts/{rollout_id}/resume": (Case(form={}),),
    "POST /rollouts/{rollout_id}/cancel": (Case(form={}),),
    "GET /heatmap": (Case(query=FLEET_Q),),
    "GET /api/v1/heatmap/{kind}": (Case(path={"kind": "hourly"}, query=FLEET_Q),),
    "GET /reports/uptime": (Case(query={"fleet": "{fleet_id}", "group": "tablet"}),),
    "GET /reports/uptime.csv": (Case(query={"fleet": "{fleet_id}", "group": "tablet"}),),
    "GET /api/v1/reports/uptime": (Case(query={"fleet": "{fleet_id}", "group": "tablet"}),),
    "GET /reports/plays": (Case(query=REPORT_Q),),
    "GET /reports/plays.csv": (Case(query=REPORT_Q),),
    "GET /v1/reports/proof-of-play": (Case(query=REPORT_Q),),
    "GET /api/v1/reports/proof-of-play": (Case(query=REPORT_Q),),
    "GET /v1/reports/proof-of-play.csv": (Case(query=REPORT_Q),),
    "GET /api/v1/reports/proof-of-play.csv": (Case(query=REPORT_Q),),
    "GET /push": (Case(),),
    "POST /push/edit": (Case(form=PUSH_FORM),),
    "POST /push/preview": (Case(form=PUSH_FORM), Case(form=PUSH_INLINE)),
    "POST /push/send": (Case(form=PUSH_FORM), Case(form=PUSH_INLINE)),
    "GET /push/{push_id}": (Case(),),
    "POST /push/{push_id}/revert": (Case(),),
    "GET /push/{push_id}/stream": (Case(),),
    "POST /api/v1/pushes": (
        Case(
            json={
                "targets": THEIR_TARGETS,
                "items": [ITEM],
                "expires_minutes": 30,
                "reason": "sweep",
            }
        ),
        Case(
            json={
                "targets": ["all"],
                "playlist_id": "{playlist_id}",
                "expires_minutes": 30,
                "reason": "sweep",
            }
        ),
    ),
    "GET /api/v1/pushes": (Case(),),
    "GET /api/v1/pushes/{push_id}": (Case(),),
    "POST /api/v1/pushes/{push_id}/revert": (Case(),),
    "GET /playlists": (Case(),),
    "GET /playlists/new": (Case(),),
    # This tenant stores the other's items: the same content, its own playlist.
    "POST /playlists": (Case(form={"name": "Sweep playlist", **ITEM_FORM}),),
    "GET /playlists/{playlist_id}": (Case(),),
    "POST /playlists/{playlist_id}": (
        Case(form={"name": "Renamed by sweep", **ITEM_FORM}),
        Case(
            form={"name": "Edited by sweep", **ITEM_FORM, "duration_ms": "16000", "replace": "yes"}
        ),
    ),
    "POST /playlists/{playlist_id}/assign": (
        Case(form={"target_kind": "fleet", "target_id": "{fleet_id}"}),
        Case(form={"target_kind": "car", "target_id": "{car_id}"}),
        Case(form={"target_kind": "tablet", "target_id": "{tablet_id}"}),
        Case(form={"target_kind": "fleet", "target_id": "{my_fleet_id}"}),
    ),
    "POST /playlists/assignments/{assignment_id}/revoke": (Case(form={"back": "/playlists"}),),
    "GET /api/v1/playlists": (Case(),),
    "GET /api/v1/playlists/{playlist_id}": (Case(),),
    "POST /api/v1/playlists/{playlist_id}/assignments": tuple(
        Case(json={"target": t}) for t in [*THEIR_TARGETS, "fleet:{my_fleet_id}"]
    ),
    "GET /audit": (Case(query={"target": "{fleet_id}"}),),
    "GET /audit.csv": (Case(query={"target": "{fleet_id}"}),),
    "GET /api/v1/audit": (Case(query={"target": "{fleet_id}"}),),
    "GET /hubs": (Case(),),
    "POST /v1/device/heartbeat": (
        Case(
            device=True,
            json={
                "v": 1,
                "seq": 1,
                "boot_id": "sweep",
                "tablet_id": "{tablet_id}",
                "playlist_etag": "{etag}",
            },
        ),
    ),
    "POST /v1/device/events": (
        Case(
            device=True,
            json={
                "batch_id": "sweep",
                "events": [
                    {
                        "event_id": "{event_id}",
                        "ad_id": "ad-x",
                        "campaign_id": "{campaign_id}",
                        "playlist_id": "{playlist_id}",
                        "playlist_etag": "{etag}",
                        "started_at": "{started_at}",
                        "duration_ms": 15000,
                        "result": "completed",
                        "tablet_id": "{tablet_id}",
                        "fleet_id": "{fleet_id}",
                    }
                ],
            },
        ),
    ),
    "GET /v1/device/plan": (Case(device=True, query={"tablet_id": "{tablet_id}"}),),
    "GET /pairing": (Case(),),
    "GET /fleets/{fleet_id}/pairing": (Case(),),
    "POST /fleets/{fleet_id}/pairing": (
        Case(form={"ttl": "1h", "car_id": "{car_id}"}),
        Case(path=MINE, form={"ttl": "1h", "car_id": "{car_id}"}),
    ),
    "POST /tablets/{tablet_id}/revoke": (Case(form={}),),
    "POST /api/v1/fleets/{fleet_id}/claim-codes": (
        Case(json={"car_id": "{car_id}"}),
        Case(path=MINE, json={"car_id": "{car_id}"}),
    ),
    "GET /api/v1/fleets/{fleet_id}/claim-codes": (Case(),),
    "POST /api/v1/tablets/{tablet_id}/revoke": (Case(),),
    "GET /api/v1/leads": (Case(query={"campaign": "{campaign_id}"}),),
    "GET /api/v1/leads/campaigns": (Case(),),
    # This tenant names the other's campaign id: its own campaign of that id (or a refusal).
    "POST /api/v1/leads/campaigns": (
        Case(json={"campaign_id": "{campaign_id}", "name": "Sweep campaign"}),
    ),
    "GET /api/v1/leads/qr": (Case(query={"campaign": "{campaign_id}"}),),
    "POST /api/v1/leads/qr": (
        Case(json={"campaign_id": "{campaign_id}", **ATTRIBUTION}),
        Case(json={"campaign_id": "{campaign_id}", "car_id": "{car_id}"}),
    ),
    "GET /api/v1/leads/{lead_id}": (Case(),),
    "GET /leads": (Case(query={"campaign": "{campaign_id}"}),),
    "GET /leads/campaigns": (Case(),),
    "POST /leads/campaigns": (Case(form={"campaign_id": "{campaign_id}", "name": "Sweep"}),),
    "GET /leads/campaigns/{campaign_id}": (Case(),),
    "POST /leads/campaigns/{campaign_id}": (Case(form={"name": "Edited by sweep"}),),
    "POST /leads/campaigns/{campaign_id}/agents": tuple(
        Case(form={"action": a, "user_id": "{agent_user_id}"})
        for a in ("add", "pause", "resume", "remove")
    ),
    "POST /leads/campaigns/{campaign_id}/qr": (Case(form=ATTRIBUTION),),
    "POST /leads/qr/{code}/revoke": (Case(form={}),),
    "GET /leads/qr/{code}.png": (Case(),),
    "GET /leads/qr/{code}.svg": (Case(),),
    "GET /leads/{lead_id}": (Case(),),
    "GET /agent/leads": (Case(),),
    "POST /agent/leads/{lead_id}/accept": (Case(form={}),),
    "POST /agent/leads/{lead_id}/reject": (Case(form={}),),
    "POST /agent/leads/{lead_id}/contacted": (Case(form={}),),
    "POST /agent/leads/{lead_id}/converted": (Case(form={}),),
    "GET /agent/push/key": (Case(),),
    "POST /agent/push/subscribe": (Case(json=SUBSCRIPTION),),
    "POST /agent/push/unsubscribe": (Case(json={"endpoint": "{endpoint}"}),),
    "GET /agent-sw.js": (Case(),),
    "GET /library": (Case(), Case(query={"q": "poster"})),
    "POST /library/upload": (Case(query={"name": "Sweep upload"}, json={"not": "a file"}),),
    "GET /library/{media_id}": (Case(),),
    "POST /library/{media_id}": (Case(form={"name": "Edited by sweep", "tags": "sweep"}),),
    "POST /library/{media_id}/versions": (Case(json={"not": "a file"}),),
    "GET /library/thumbnails/{sha256}.jpg": (Case(),),
    "GET /library/files/{sha256}": (Case(),),
    "HEAD /library/files/{sha256}": (Case(),),
    "GET /api/v1/media": (Case(), Case(query={"q": "poster"})),
    "GET /api/v1/media/storage": (Case(),),
    "GET /api/v1/media/{media_id}": (Case(),),
    "POST /api/v1/media": (
        Case(query={"name": "Sweep upload", "campaign_id": "{campaign_id}"}, json={"x": 1}),
    ),
    "POST /api/v1/media/{media_id}/versions": (
        Case(query={"update_playlists": "true"}, json={"not": "a file"}),
    ),
    "PATCH /api/v1/media/{media_id}": (Case(json={"name": "Edited by sweep"}),),
    # A tablet's download link: signed for the tablet and its tenant (403 without).
    "GET /media/{sha256}": (
        Case(query={"tablet": "{my_tablet_id}", "expires": "9999999999", "sig": "0" * 32}),
    ),
    "HEAD /media/{sha256}": (
        Case(query={"tablet": "{tablet_id}", "expires": "9999999999", "sig": "0" * 32}),
    ),
    "GET /api/v1/agent/leads": (Case(),),
    "GET /api/v1/agent/leads/{lead_id}": (Case(),),
    "POST /api/v1/agent/leads/{lead_id}/accept": (Case(),),
    "POST /api/v1/agent/leads/{lead_id}/reject": (Case(),),
    "POST /api/v1/agent/leads/{lead_id}/contacted": (Case(),),
    "POST /api/v1/agent/leads/{lead_id}/converted": (Case(),),
    # Management (web/fleets): this tenant names the other's fleets and cars.
    "GET /manage/fleets": (Case(),),
    "GET /manage/fleets/new": (Case(),),
    "POST /manage/fleets": (Case(form={"fleet_id": "{fleet_id}", "name": "Sweep"}),),
    "GET /manage/fleets/{fleet_id}": (Case(),),
    "POST /manage/fleets/{fleet_id}": (Case(form={"name": "Sweep", "alert_after": "1m"}),),
    "GET /manage/fleets/{fleet_id}/health": (Case(),),
    "POST /manage/fleets/{fleet_id}/health": (Case(form={"low_storage_mb": "100"}),),
    "POST /manage/fleets/{fleet_id}/cars": (
        Case(form={"car_id": "sweep-car"}),
        Case(path=MINE, form={"car_id": "{car_id}"}),
    ),
    "POST /manage/cars/{car_id}/move": (
        Case(form={"fleet_id": "{my_fleet_id}"}),
        Case(form={"fleet_id": "{fleet_id}"}),
    ),
    "POST /manage/cars/{car_id}/remove": (Case(form={}),),
    # Management (web/tablet_admin): the other's tablets, alone or mixed with this tenant's.
    "GET /manage/tablets": (Case(query={"fleet": "{fleet_id}", "q": "{tablet_id}"}),),
    "GET /manage/tablets/new": (Case(query={"fleet": "{fleet_id}"}),),
    "POST /manage/tablets": (
        Case(form={"tablet_id": "{tablet_id}", "fleet_id": "{my_fleet_id}"}),
        Case(form={"tablet_id": "sweep-new-tablet", "fleet_id": "{fleet_id}"}),
        Case(
            form={
                "tablet_id": "sweep-car-tablet",
                "fleet_id": "{my_fleet_id}",
                "car_id": "{car_id}",
            }
        ),
    ),
    "POST /manage/tablets/bulk": (
        *tuple(
            Case(form={"action": a, "tablet": ["{tablet_id}", "{my_tablet_id}"], "fleet_id": f})
            for a in ("move", "revoke", "push")
            for f in ("{my_fleet_id}", "{fleet_id}")
        ),
        Case(form={"action": "move", "tablet": ["{my_tablet_id}"], "fleet_id": "{fleet_id}"}),
        Case(
            form={
                "action": "move",
                "tablet": ["{my_tablet_id}"],
                "fleet_id": "{my_fleet_id}",
                "car_id": "{car_id}",
            }
        ),
    ),
    "GET /manage/tablets/{tablet_id}": (Case(),),
    "POST /manage/tablets/{tablet_id}": (
        Case(form={"fleet_id": "{my_fleet_id}", "interval": "1m"}),
        Case(path={"tablet_id": "{my_tablet_id}"}, form={"fleet_id": "{fleet_id}"}),
    ),
    "POST /manage/tablets/{tablet_id}/revoke": (Case(form={}),),
    "POST /manage/tablets/{tablet_id}/token": (Case(form={}),),
    "POST /manage/tablets/{tablet_id}/tokens/revoke": (Case(form={}),),
    # Management (web/users): the other's users by id, their e-mail in an invitation.
    "GET /manage/users": (Case(),),
    "POST /manage/users": (
        Case(form={"email": "{agent_email}", "role": "agent"}),
        Case(form={"email": "sweep-new@example.com", "role": "fleet_owner", "fleet": "{fleet_id}"}),
    ),
    "GET /manage/users/{user_id}": (Case(),),
    "POST /manage/users/{user_id}": (
        Case(form={"name": "Sweep", "role": "admin"}),
        Case(
            path={"user_id": "{my_user_id}"},
            form={"name": "Sweep", "role": "fleet_owner", "fleet": "{fleet_id}"},
        ),
    ),
    "POST /manage/users/{user_id}/active": (
        Case(form={"active": "no"}),
        Case(form={"active": "yes"}),
    ),
    "POST /manage/users/{user_id}/reset": (Case(form={}),),
    "GET /password/done": (Case(),),
    "GET /map": (Case(query={"fleet": "{fleet_id}"}),),
    # Leads nobody answered (web/leads/reoffer_pages.py).
    "POST /leads/{lead_id}/reoffer": (
        Case(form={}),
        Case(form={"agent_id": "{agent_user_id}", "back": "/leads"}),
    ),
    "GET /leads.csv": (Case(query={"campaign": "{campaign_id}", "status": "unassigned"}),),
    # Earnings (web/earnings): their fleets' and drivers' statements of a month they closed.
    "GET /earnings": (Case(query=MONTH),),
    **{
        f"GET /earnings/{{month}}/{kind}/{{{param}}}{ext}": (Case(),)
        for kind, param in (("fleets", "fleet_id"), ("drivers", "driver_id"))
        for ext in ("", ".csv", ".pdf")
    },
    "POST /earnings/{month}/close": (Case(form={}),),
    "POST /earnings/{month}/reopen": (Case(form={"reason": "sweep"}),),
    "GET /earnings/rates": (Case(),),
    "POST /earnings/rates": (Case(form=CARD_FORM),),
    "POST /earnings/rates/{version}/end": (Case(form={"valid_to": "2030-01-01"}),),
    "POST /earnings/settings": (
        Case(form={"currency": "EUR", "timezone": "UTC", "dispute_days": "3"}),
    ),
    "GET /api/v1/statements": (Case(query=MONTH),),
    "GET /api/v1/statements/{month}/fleets/{fleet_id}": (Case(),),
    "GET /api/v1/statements/{month}/drivers/{driver_id}": (Case(),),
    "GET /api/v1/rate-cards": (Case(),),
    "POST /api/v1/rate-cards": (Case(json={**CARD_FORM, "campaign_id": None}),),
    # The driver register (web/drivers): their drivers and assignments, their cars and code.
    "GET /drivers": (Case(),),
    "POST /drivers": (
        Case(form={"fleet_id": "{fleet_id}", "code": "sweep-code", "name": "Sweep"}),
        Case(form={"fleet_id": "{my_fleet_id}", "code": "{driver_code}", "name": "Sweep"}),
    ),
    "GET /drivers/{driver_id}": (Case(),),
    "POST /drivers/{driver_id}": (Case(form={"code": "sweep-x", "name": "Sweep"}),),
    "POST /drivers/{driver_id}/assignments": (
        Case(form={"car_id": "{car_id}", "valid_from": "2030-01-01"}),
        Case(path=MY_DRIVER, form={"car_id": "{car_id}", "valid_from": "2030-01-01"}),
    ),
    "POST /drivers/{driver_id}/assignments/{assignment_id}/end": (
        Case(form={"valid_to": "2030-01-01"}),
        Case(path=MY_DRIVER, form={"valid_to": "2030-01-01"}),
    ),
    "POST /drivers/{driver_id}/link": (Case(form={}),),
    "POST /drivers/{driver_id}/revoke": (Case(form={}),),
    "GET /driver": (Case(),),
    # Lead billing (web/lead_billing): their buyer's invoice, their dispute, their lead.
    "GET /lead-billing": (Case(query=MONTH),),
    "POST /lead-billing/prices": (Case(form={"campaign_id": "{campaign_id}", "price": "1"}),),
    "POST /lead-billing/disputes/{dispute_id}": (Case(form={"decision": "accept"}),),
    **{
        f"GET /lead-billing/{{month}}/agents/{{agent_id}}{ext}": (Case(),)
        for ext in ("", ".csv", ".pdf")
    },
    "GET /agent/invoices": (Case(query=MONTH),),
    "POST /agent/leads/{lead_id}/dispute": (Case(form={"reason": "sweep"}),),
    "GET /api/v1/lead-invoices": (Case(query=MONTH),),
    "GET /api/v1/lead-invoices/{month}/agents/{agent_id}": (Case(),),
    "POST /api/v1/agent/leads/{lead_id}/dispute": (Case(json={"reason": "sweep"}),),
    # Campaigns (web/campaigns, web/zones): their campaign, advertiser and zone by id, and a
    # campaign of this tenant naming their advertiser, fleet, zone and media.
    "GET /campaigns": (Case(),),
    "GET /campaigns/new": (Case(),),
    "POST /campaigns": (Case(form=CAMPAIGN_FORM),),
    "GET /campaigns/{campaign_id}": (Case(),),
    "POST /campaigns/{campaign_id}": (Case(form=CAMPAIGN_FORM),),
    "POST /campaigns/{campaign_id}/status": (
        Case(form={"action": "pause"}),
        Case(form={"action": "finish"}),
    ),
    "GET /campaigns/{campaign_id}/delivery": (Case(),),
    "GET /campaigns/{campaign_id}/delivery.csv": (Case(),),
    "GET /campaigns/{campaign_id}/delivery.json": (Case(),),
    "GET /advertisers": (Case(),),
    "POST /advertisers": (Case(form={"advertiser_id": "{advertiser_id}", "name": "Sweep"}),),
    "POST /advertisers/{advertiser_id}/users": (Case(form={"email": "{agent_email}"}),),
    "GET /zones": (Case(),),
    "GET /zones/new": (Case(),),
    "POST /zones": (Case(form={"name": "Sweep zone", "geojson": json.dumps(ZONE)}),),
    "GET /zones/{zone_id}": (Case(),),
    "POST /zones/{zone_id}": (Case(form={"name": "Renamed by sweep"}),),
    "POST /zones/{zone_id}/delete": (Case(form={}),),
    "GET /api/v1/campaigns": (Case(),),
    "GET /api/v1/campaigns/{campaign_id}": (Case(),),
    "GET /api/v1/campaigns/{campaign_id}/delivery": (Case(),),
    "GET /api/v1/zones": (Case(),),
    "GET /api/v1/zones/{zone_id}": (Case(),),
    "POST /api/v1/zones": (Case(query={"name": "Sweep API zone"}, json=ZONE),),
}

SKIPPED = {
    "POST /login": "names an account by e-mail, anonymously: tests/web/test_auth.py",
    "POST /api/v1/auth/token": "names an account by e-mail, anonymously: tests/web/test_auth.py",
    "POST /logout": "ends the sweep's own session: tests/web/test_auth.py",
    "POST /api/v1/auth/logout": "ends the sweep's own token: tests/web/test_auth.py",
    "GET /grid/stream": "an endless stream naming no object: tests/web/test_feed.py",
    "GET /agent/leads/stream": "an endless stream naming no object: tests/web/test_agent_stream.py",
    "POST /v1/device/pairing/claim": "a secret code, no tenant: tests/web/test_pairing.py",
    "GET /l/{code}": "the public lead form, by an unguessable code: tests/web/test_leads_form.py",
    "POST /l/{code}": "the public lead form, by an unguessable code: tests/web/test_leads_form.py",
    "GET /notices/leads": "an endless stream naming no object: test_leads_unanswered.py",
    "GET /map/stream": "an endless stream naming no object: tests/browser/test_map_browser.py",
    "GET /password/{token}": "a one-time link, by an unguessable token: test_manage_users.py",
    "POST /password/{token}": "a one-time link, by an unguessable token: test_manage_users.py",
    "GET /signin/{token}": "a driver's one-time link, by an unguessable token: test_drivers.py",
    "POST /signin/{token}": "a driver's one-time link, by an unguessable token: test_drivers.py",
}


def fill(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with every ``{name}`` replaced by ``ids[name]`` (in strings, lists, dicts)."""
    if isinstance(value, str):
        return re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], value)
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


# The rows of a tenant, table by table (%(t)s: the tenant id). Playlists are read through
# the tenant's library, which holds in both schemas (shared and per-tenant playlists).
FLEETS = "(SELECT fleet_id FROM fleets WHERE tenant_id = %(t)s)"
TABLETS = f"(SELECT tablet_id FROM tablets WHERE fleet_id IN {FLEETS})"  # noqa: S608
USERS = "(SELECT user_id FROM users WHERE tenant_id = %(t)s)"
LIBRARY = "(SELECT playlist_id FROM tenant_playlists WHERE tenant_id = %(t)s)"
OWN = "coalesce(to_jsonb(x) ->> 'tenant_id', %(t)s) = %(t)s"  # per-tenant rows, if they are
ROWS: dict[str, str] = {
    "tenants": "tenant_id = %(t)s",
    "fleets": "tenant_id = %(t)s",
    "cars": f"fleet_id IN {FLEETS}",
    "tablets": f"fleet_id IN {FLEETS}",
    "tablet_state": f"tablet_id IN {TABLETS}",
    "device_tokens": f"tablet_id IN {TABLETS}",
    "deliveries": f"tablet_id IN {TABLETS}",
    "heartbeats": f"tablet_id IN {TABLETS}",
    "presence_transitions": f"tablet_id IN {TABLETS}",
    "uptime_hourly": f"tablet_id IN {TABLETS}",
    "plays": f"tablet_id IN {TABLETS} OR fleet_id IN {FLEETS}",
    "plays_daily": f"tablet_id IN {TABLETS} OR fleet_id IN {FLEETS}",
    "incidents": f"fleet_id IN {FLEETS} OR tablet_id IN {TABLETS}",
    "incident_notes": f"incident_id IN (SELECT incident_id FROM incidents"  # noqa: S608
    f" WHERE fleet_id IN {FLEETS})",
    "notifications": f"fleet_id IN {FLEETS}",
    "claim_codes": f"tenant_id = %(t)s OR fleet_id IN {FLEETS}",
    "users": "tenant_id = %(t)s",
    "user_fleets": f"user_id IN {USERS} OR fleet_id IN {FLEETS}",
    "web_sessions": f"user_id IN {USERS}",
    "user_settings": f"user_id IN {USERS}",
    "api_tokens": f"user_id IN {USERS}",
    "push_subscriptions": f"user_id IN {USERS}",
    "push_deliveries": f"endpoint IN (SELECT endpoint FROM push_subscriptions"  # noqa: S608
    f" WHERE user_id IN {USERS})",
    "playlists": f"playlist_id IN {LIBRARY} AND {OWN}",
    "playlist_items": f"playlist_id IN {LIBRARY} AND {OWN}",
    "tenant_playlists": "tenant_id = %(t)s",
    "playlist_assignments": "tenant_id = %(t)s",
    "pushes": "tenant_id = %(t)s",
    "lead_campaigns": "tenant_id = %(t)s",
    "campaign_agents": f"tenant_id = %(t)s OR user_id IN {USERS}",
    "qr_codes": "tenant_id = %(t)s",
    "leads": "tenant_id = %(t)s",
    "lead_events": "lead_id IN (SELECT lead_id FROM leads WHERE tenant_id = %(t)s)",
    "lead_offers": f"tenant_id = %(t)s OR agent_id IN {USERS}",
    "audit_log": "tenant_id = %(t)s",
    "billing_settings": "tenant_id = %(t)s",
    "rate_cards": "tenant_id = %(t)s",
    "rate_card_campaigns": "tenant_id = %(t)s",
    "drivers": f"tenant_id = %(t)s OR fleet_id IN {FLEETS}",
    "driver_assignments": "tenant_id = %(t)s",
    "tablet_cars": f"tablet_id IN {TABLETS} OR fleet_id IN {FLEETS}",
    "billing_closes": "tenant_id = %(t)s",
    "billing_documents": "tenant_id = %(t)s",
    "billing_lines": "document_id IN (SELECT document_id FROM billing_documents"
    " WHERE tenant_id = %(t)s)",
    "lead_prices": "tenant_id = %(t)s",
    "lead_disputes": f"tenant_id = %(t)s OR agent_id IN {USERS}",
    "media": "tenant_id = %(t)s",
    "media_versions": "tenant_id = %(t)s",
    "user_campaigns": f"user_id IN {USERS}",
    "tablet_media": f"tablet_id IN {TABLETS}",
    "advertisers": "tenant_id = %(t)s",
    "user_advertisers": f"tenant_id = %(t)s OR user_id IN {USERS}",
    "zones": "tenant_id = %(t)s",
    "campaigns": "tenant_id = %(t)s",
    "campaign_fleets": f"tenant_id = %(t)s OR fleet_id IN {FLEETS}",
    "campaign_dayparts": "tenant_id = %(t)s",
    "campaign_zones": "tenant_id = %(t)s",
    "campaign_creatives": "tenant_id = %(t)s",
    "campaign_pacing": "tenant_id = %(t)s",
    "campaign_delivery": f"tenant_id = %(t)s OR tablet_id IN {TABLETS}",
    "campaign_cells": "tenant_id = %(t)s",
    "alert_subscriptions": f"tenant_id = %(t)s OR user_id IN {USERS}",
    "commands": "tenant_id = %(t)s",
    "command_targets": f"tablet_id IN {TABLETS}",
    "command_roles": "tenant_id = %(t)s",
    "screenshots": f"tablet_id IN {TABLETS}",
    "rollouts": "tenant_id = %(t)s",
    "rollout_tablets": f"tablet_id IN {TABLETS}",
}

Rows = dict[str, list[str]]


# Every table's rows in one round trip: (table, row as JSON text).
SNAPSHOT = sql.SQL(" UNION ALL ").join(
    sql.SQL("SELECT {}, to_jsonb(x)::text FROM {} x WHERE {}").format(
        sql.Literal(table), sql.Identifier(table), sql.SQL(where)
    )
    for table, where in ROWS.items()
)


def rows_of(conn: Conn, tenant_id: str) -> Rows:
    """Every row of the tenant, as JSON text, table by table."""
    out: Rows = {table: [] for table in ROWS}
    for table, text in conn.execute(SNAPSHOT, {"t": tenant_id}).fetchall():
        out[str(table)].append(str(text))
    return out


def changed(before: Rows, after: Rows) -> list[str]:
    """The tables whose rows differ, with a row that was added or removed."""
    out = []
    for table in ROWS:
        gone = set(before[table]) - set(after[table])
        new = set(after[table]) - set(before[table])
        if gone or new:
            out.append(f"{table}: -{sorted(gone)[:1]} +{sorted(new)[:1]}")
    return out


# A tablet's own words (heartbeat extras) may quote anything: not a reference to an object.
FREE_TEXT = {"heartbeats"}


def naming(rows: Rows, baseline: Rows, ids: list[str]) -> list[str]:
    """Rows new since ``baseline`` that hold one of ``ids`` (another tenant's global ids)."""
    out = []
    for table, texts in rows.items():
        if table in FREE_TEXT:
            continue
        for text in set(texts) - set(baseline[table]):
            if found := [i for i in ids if i in text]:
                out.append(f"{table} row names {found}: {text[:200]}")
    return out


def shared(mine: Rows, theirs: Rows, baseline: Rows) -> list[str]:
    """Rows new since ``baseline`` that both tenants hold: one object where there must be two."""
    out = []
    for table, texts in mine.items():
        if both := (set(texts) - set(baseline[table])) & set(theirs[table]):
            out.append(f"{table}: {sorted(both)[0][:200]}")
    return out
