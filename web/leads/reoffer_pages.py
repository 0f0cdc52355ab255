"""Leads nobody answered, for admins: re-offer one (to every agent of its campaign, or to one
of them) and export the leads as CSV with the list's filters.

A re-offer is :func:`store.lead_reoffer.reoffer`: the lead back to ``new`` in a new routing
round, its event and ``NOTIFY fleethub_leads`` (the hub routes it like a new lead).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from config.errors import ConfigError
from store import lead_listing, lead_reoffer
from web.deps import AdminLogin, PoolDep
from web.http.admin_form import AdminFormDep
from web.leads import listing as lead_list
from web.leads.pages import render_lead
from web.manage.fields import Fields

router = APIRouter(include_in_schema=False)
EXPORT_PAGE = 1000
EXPORT_MOST = 100_000
COLUMNS = (
    "lead_id", "submitted_at", "campaign_id", "name", "phone", "status", "duplicate_of",
    "fleet_id", "car_id", "tablet_id", "driver_id", "code",
)  # fmt: skip


@router.post("/leads/{lead_id}/reoffer", response_class=HTMLResponse, response_model=None)
async def reoffer(
    lead_id: str, request: Request, pool: PoolDep, posted: AdminFormDep
) -> HTMLResponse | RedirectResponse:
    found = await lead_list.lead(pool, posted.user, lead_id)
    if found is None:
        raise HTTPException(404, f"no lead {lead_id!r} in your tenant")
    lead = found[0]
    fields = Fields(posted.form)
    back = fields.text("back", "Back", 400)
    back = back if back.startswith("/leads") and not back.startswith("//") else ""
    try:
        agent = fields.text("agent_id", "Agent", 18)
        if agent and not agent.isdigit():
            raise ConfigError("Agent: choose one of the campaign's agents")
        async with pool.connection() as conn:
            await lead_reoffer.reoffer(
                conn,
                posted.user.tenant_id,
                lead.lead_id,
                posted.user.email,
                int(agent) if agent else None,
            )
    except ConfigError as exc:
        return await render_lead(request, pool, posted.login, lead_id, 422, reoffer_error=str(exc))
    target = back or f"/leads/{lead.lead_id}"
    return RedirectResponse(target + ("&" if "?" in target else "?") + "done=reoffered", 303)


@router.get("/leads.csv")
async def leads_csv(request: Request, pool: PoolDep, login: AdminLogin) -> StreamingResponse:
    """Every lead the list shows for the same ``campaign`` and ``status``, newest first."""
    campaign = request.query_params.get("campaign", "").strip()[:128] or None
    status = request.query_params.get("status", "")
    status_filter = status if status in lead_list.STATUSES else None

    async def rows() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for offset in range(0, EXPORT_MOST, EXPORT_PAGE):
            async with pool.connection() as conn:
                page = await lead_listing.leads(
                    conn, login.user.tenant_id, campaign, status_filter, EXPORT_PAGE, offset
                )
            for lead in page:
                writer.writerow(
                    [
                        lead.lead_id,
                        lead.submitted_at.astimezone(UTC).isoformat(),
                        _cell(lead.campaign_id),
                        _cell(lead.name),
                        lead.phone,  # E.164: a + and digits only
                        lead.status,
                        lead.duplicate_of or "",
                        *(_cell(v) for v in (lead.fleet_id, lead.car_id, lead.tablet_id)),
                        _cell(lead.driver_id),
                        lead.code,
                    ]
                )
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            if len(page) < EXPORT_PAGE:
                return

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    name = f"leads-{stamp}.csv"
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _cell(value: str | None) -> str:
    """A text cell a spreadsheet will not run as a formula (a passenger typed the name)."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
