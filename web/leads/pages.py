"""Admins' lead pages: the leads, lead campaigns with their agents, and QR codes (with pictures).

Admin only (fleet owners see no leads: web/leads/listing.py). Everything is scoped to the
admin's tenant; another tenant's campaign, code or lead answers 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from store.lead_campaigns import CampaignExists, NoSuchAgent
from web.deps import AdminLogin, Login, PoolDep, SettingsDep
from web.grid.tiles import fleets
from web.http.admin_form import AdminForm, AdminFormDep
from web.http.public import public_address
from web.http.templating import TEMPLATES, local_text
from web.leads import campaigns, codes
from web.leads import listing as lead_list
from web.leads.campaigns import AgentAction, CampaignEdit, CampaignIn
from web.leads.codes import BadAttribution, Kind, QrIn

router = APIRouter(include_in_schema=False)
M = TypeVar("M", bound=BaseModel)

CampaignPath = Annotated[str, Path(min_length=1, max_length=128)]
CodePath = Annotated[str, Path(min_length=1, max_length=32)]
LeadPath = Annotated[str, Path(min_length=1, max_length=64)]
DoneQuery = Annotated[str | None, Query(max_length=16)]
REOFFERED = "Re-offered: the hub offers it to the agents now."
DONE = {
    "created": "Campaign created.",
    "saved": "Campaign saved.",
    "agents": "Agents updated.",
    "qr": "QR code created.",
    "revoked": "QR code revoked: its form now answers “not found”.",
}
LABELS = {
    "campaign_id": "Campaign id",
    "name": "Name",
    "dedupe_hours": "Dedupe window (hours)",
    "offer_timeout_s": "Offer timeout (s)",
    "routing": "Routing",
    "fleet_id": "Fleet",
    "car_id": "Car",
    "tablet_id": "Tablet",
    "max_leads": "Cap (new leads)",
}


def _render(
    request: Request, template: str, login: Login, status: int = 200, **context: Any
) -> HTMLResponse:
    def when(at: datetime | None) -> str:
        """A time in the user's zone (the page says which, and gives UTC on hover)."""
        return "" if at is None else local_text(at, login.timezone)

    return TEMPLATES.TemplateResponse(
        request, template, {"login": login, "when": when, **context}, status_code=status
    )


def read_model(model: type[M], form: FormData) -> tuple[M | None, list[str], dict[str, str]]:
    """The model from the form's non-empty fields, or the messages of what is wrong."""
    values = {
        k: v.strip() for k, v in form.items() if k in model.model_fields and isinstance(v, str)
    }
    try:
        return model.model_validate({k: v for k, v in values.items() if v}), [], values
    except ValidationError as exc:
        errors = [
            f"{LABELS.get(str(e['loc'][0]), str(e['loc'][0])) if e['loc'] else 'Form'}: {e['msg']}"
            for e in exc.errors()
        ]
        return None, errors, values


def public_base(request: Request, settings: SettingsDep) -> str:
    """The panel's public address: ``public_base_url`` when configured, else this request's."""
    return (settings.public_base_url or str(request.base_url)).rstrip("/") + "/"


# --- leads ------------------------------------------------------------------------------------


@router.get("/leads", response_class=HTMLResponse)
async def leads_page(
    request: Request,
    pool: PoolDep,
    login: AdminLogin,
    campaign: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    status = status if status in lead_list.STATUSES else None
    campaign = campaign or None
    found = await lead_list.leads(pool, login.user, campaign, status, page)
    return _render(
        request,
        "leads.html",
        login,
        found=found,
        unanswered=await lead_list.unanswered(pool, login.user),
        done="Re-offered: the hub offers it to the agents now."
        if "done" in request.query_params
        else None,
        campaign=campaign or "",
        status_filter=status or "",
        statuses=lead_list.STATUSES,
        campaigns=await campaigns.campaigns(pool, login.user),
    )


# --- campaigns --------------------------------------------------------------------------------


async def _campaigns_page(
    request: Request,
    pool: PoolDep,
    login: Login,
    status: int = 200,
    errors: list[str] | None = None,
    values: dict[str, str] | None = None,
    done: str | None = None,
) -> HTMLResponse:
    return _render(
        request,
        "lead_campaigns.html",
        login,
        status,
        campaigns=await campaigns.campaigns(pool, login.user),
        errors=errors or [],
        values=values or {},
        done=done,
    )


@router.get("/leads/campaigns", response_class=HTMLResponse)
async def campaigns_page(
    request: Request, pool: PoolDep, login: AdminLogin, done: DoneQuery = None
) -> HTMLResponse:
    return await _campaigns_page(request, pool, login, done=DONE.get(done or ""))


@router.post("/leads/campaigns", response_class=HTMLResponse)
async def create_campaign(request: Request, pool: PoolDep, posted: AdminFormDep) -> Response:
    wanted, errors, values = read_model(CampaignIn, posted.form)
    if wanted is not None:
        try:
            await campaigns.create(pool, posted.user, wanted)
        except CampaignExists:
            errors = [
                f"Campaign id: your tenant already has a lead campaign {wanted.campaign_id!r}."
            ]
        else:
            return RedirectResponse(
                f"/leads/campaigns/{wanted.campaign_id}?done=created", status_code=303
            )
    status = 409 if wanted is not None else 422
    return await _campaigns_page(request, pool, posted.login, status, errors, values)


async def _campaign_page(
    request: Request,
    pool: PoolDep,
    login: Login,
    settings: SettingsDep,
    campaign_id: str,
    status: int = 200,
    done: str | None = None,
    **forms: Any,
) -> HTMLResponse:
    found = await campaigns.campaign(pool, login.user, campaign_id)
    if found is None:
        raise HTTPException(404, f"no lead campaign {campaign_id!r} in your tenant")
    context: dict[str, Any] = {
        "edit_errors": [],
        "edit": None,
        "agent_error": None,
        "qr_errors": [],
        "qr": {},
        **forms,
    }
    return _render(
        request,
        "lead_campaign.html",
        login,
        status,
        campaign=found,
        done=done,
        agents=await campaigns.agents(pool, login.user, campaign_id),
        codes=await codes.codes(pool, login.user, campaign_id),
        fleets=await fleets(pool, login.user),
        base=public_base(request, settings).rstrip("/"),
        address=public_address(request, settings),
        **context,
    )


@router.get("/leads/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(
    request: Request,
    pool: PoolDep,
    login: AdminLogin,
    settings: SettingsDep,
    campaign_id: CampaignPath,
    done: DoneQuery = None,
) -> HTMLResponse:
    return await _campaign_page(
        request, pool, login, settings, campaign_id, done=DONE.get(done or "")
    )


async def _known(pool: PoolDep, posted: AdminForm, campaign_id: str) -> None:
    if await campaigns.campaign(pool, posted.user, campaign_id) is None:
        raise HTTPException(404, f"no lead campaign {campaign_id!r} in your tenant")


@router.post("/leads/campaigns/{campaign_id}", response_class=HTMLResponse)
async def edit_campaign(
    request: Request,
    pool: PoolDep,
    posted: AdminFormDep,
    settings: SettingsDep,
    campaign_id: CampaignPath,
) -> Response:
    await _known(pool, posted, campaign_id)
    wanted, errors, values = read_model(CampaignEdit, posted.form)
    if wanted is None:
        return await _campaign_page(
            request, pool, posted.login, settings, campaign_id, 422, edit_errors=errors, edit=values
        )
    if not await campaigns.edit(pool, posted.user, campaign_id, wanted):
        raise HTTPException(404, f"no lead campaign {campaign_id!r} in your tenant")
    return RedirectResponse(f"/leads/campaigns/{campaign_id}?done=saved", status_code=303)


@router.post("/leads/campaigns/{campaign_id}/agents", response_class=HTMLResponse)
async def change_agent(
    request: Request,
    pool: PoolDep,
    posted: AdminFormDep,
    settings: SettingsDep,
    campaign_id: CampaignPath,
) -> Response:
    await _known(pool, posted, campaign_id)
    action, user_id = posted.form.get("action"), posted.form.get("user_id")
    error = None
    if action not in ("add", "remove", "pause", "resume"):
        error = "Choose what to do with the agent."
    elif not isinstance(user_id, str) or not user_id.isdigit() or len(user_id) > 18:
        error = "Choose an agent."
    else:
        verb: AgentAction = action  # type: ignore[assignment]  # checked just above
        try:
            if not await campaigns.change_agent(pool, posted.user, campaign_id, int(user_id), verb):
                raise HTTPException(404, f"no lead campaign {campaign_id!r} in your tenant")
        except NoSuchAgent:
            error = "That user is not an agent of your tenant subscribed to this campaign."
        else:
            return RedirectResponse(f"/leads/campaigns/{campaign_id}?done=agents", status_code=303)
    return await _campaign_page(
        request, pool, posted.login, settings, campaign_id, 422, agent_error=error
    )


@router.post("/leads/campaigns/{campaign_id}/qr", response_class=HTMLResponse)
async def create_qr(
    request: Request,
    pool: PoolDep,
    posted: AdminFormDep,
    settings: SettingsDep,
    campaign_id: CampaignPath,
) -> Response:
    await _known(pool, posted, campaign_id)
    wanted, errors, values = read_model(QrIn, posted.form)
    if wanted is not None:
        try:
            created = await codes.create(pool, posted.user, campaign_id, wanted)
        except BadAttribution as exc:
            errors = [f"Where it is shown: {exc}."]
        else:
            if created is None:
                raise HTTPException(404, f"no lead campaign {campaign_id!r} in your tenant")
            return RedirectResponse(
                f"/leads/campaigns/{campaign_id}?done=qr#qr-{created.code}", status_code=303
            )
    return await _campaign_page(
        request, pool, posted.login, settings, campaign_id, 422, qr_errors=errors, qr=values
    )


@router.post("/leads/qr/{code}/revoke")
async def revoke_qr(pool: PoolDep, posted: AdminFormDep, code: CodePath) -> Response:
    revoked = await codes.revoke(pool, posted.user, code)
    if revoked is None:
        raise HTTPException(404, f"no active QR code {code!r} in your tenant")
    return RedirectResponse(f"/leads/campaigns/{revoked.campaign_id}?done=revoked", status_code=303)


async def _picture(
    request: Request, pool: PoolDep, login: Login, settings: SettingsDep, code: str, kind: Kind
) -> Response:
    found = await codes.code(pool, login.user, code)
    if found is None:
        raise HTTPException(404, f"no QR code {code!r} in your tenant")
    url = codes.form_url(public_base(request, settings), found.code)
    media = "image/png" if kind == "png" else "image/svg+xml"
    return Response(
        codes.picture(url, kind),
        media_type=media,
        headers={
            "Content-Disposition": f'inline; filename="lead-{found.code}.{kind}"',
            "Cache-Control": "private, max-age=300",
        },
    )


@router.get("/leads/qr/{code}.png")
async def qr_png(
    request: Request, pool: PoolDep, login: AdminLogin, settings: SettingsDep, code: CodePath
) -> Response:
    return await _picture(request, pool, login, settings, code, "png")


@router.get("/leads/qr/{code}.svg")
async def qr_svg(
    request: Request, pool: PoolDep, login: AdminLogin, settings: SettingsDep, code: CodePath
) -> Response:
    return await _picture(request, pool, login, settings, code, "svg")


# --- one lead (last: /leads/{lead_id} would otherwise catch /leads/campaigns) -----------------


async def render_lead(
    request: Request, pool: PoolDep, login: Login, lead_id: str, status: int = 200, **extra: Any
) -> HTMLResponse:
    """The lead's page (404 outside the tenant); an unassigned lead's with the agents it can
    be re-offered to (web/leads/reoffer_pages.py)."""
    found = await lead_list.lead(pool, login.user, lead_id)
    if found is None:
        raise HTTPException(404, f"no lead {lead_id!r} in your tenant")
    lead, events = found
    agents = []
    if lead.status == "unassigned":
        agents = [a for a in await campaigns.agents(pool, login.user, lead.campaign_id) if a.active]
    done = (
        "Re-offered: the hub offers it to the agents now."
        if "done" in request.query_params
        else None
    )
    return _render(
        request,
        "lead_detail.html",
        login,
        status,
        lead=lead,
        events=events,
        agents=agents,
        done=done,
        **extra,
    )


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
async def lead_page(
    request: Request, pool: PoolDep, login: AdminLogin, lead_id: LeadPath
) -> HTMLResponse:
    return await render_lead(request, pool, login, lead_id)
