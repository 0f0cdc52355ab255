"""The lead agent's inbox: offers and held leads, their actions, the live stream, Web Push.

The inbox, its stream and the push routes are for agents (403 to other roles); a route naming
a lead answers 404 unless the lead is the signed-in agent's own (web/agents/inbox.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sse_starlette.sse import EventSourceResponse

from store.lead_inbox import AgentLead
from store.web_push import SubscriptionTaken
from web.agents import inbox as agent_leads
from web.agents import web_push as agent_push
from web.agents.inbox import Action, ActionRefused, LeadNotFound
from web.agents.inbox_feed import LeadChanged, LeadFeed, OfferMade, Resync
from web.agents.web_push import EndpointIn, SubscriptionIn
from web.deps import AgentFormLogin, AgentLogin, FormLogin, Login, PoolDep
from web.http.templating import TEMPLATES

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parents[1] / "static"
DONE = {
    "accept": "Lead accepted: call them now.",
    "reject": "Offer rejected: it goes to the next agent.",
    "contacted": "Marked contacted.",
    "converted": "Marked converted.",
}
DoneQuery = Annotated[str | None, Query(max_length=16)]


def render_row(lead: AgentLead, csrf: str, zone: str = "UTC") -> Markup:
    macro = TEMPLATES.env.get_template("_agent_lead_row.html").module.row  # type: ignore[attr-defined]
    html: Markup = macro(lead, csrf, zone)
    return html


def toast(lead: AgentLead) -> str:
    return f"New lead: {lead.name} ({lead.campaign_name})"


async def _page(
    request: Request, pool: PoolDep, login: Login, status: int = 200, **extra: Any
) -> HTMLResponse:
    leads = await agent_leads.inbox(pool, login.user)
    return TEMPLATES.TemplateResponse(
        request,
        "agent_leads.html",
        {
            "login": login,
            "offers": [lead for lead in leads if lead.offered],
            "held": [lead for lead in leads if not lead.offered],
            "subscriptions": await agent_push.count(pool, login.user),
            "error": None,
            "done": None,
            **extra,
        },
        status_code=status,
    )


@router.get("/agent/leads", response_class=HTMLResponse)
async def inbox_page(
    request: Request, pool: PoolDep, login: AgentLogin, done: DoneQuery = None
) -> HTMLResponse:
    return await _page(request, pool, login, done=DONE.get(done or ""))


def _form_action(action: Action) -> Callable[..., Awaitable[Response]]:
    async def handler(lead_id: str, request: Request, pool: PoolDep, login: FormLogin) -> Response:
        found = agent_leads.parse_id(lead_id)
        try:
            if found is None:
                raise LeadNotFound(lead_id)
            await agent_leads.act(pool, login.user, found, action)
        except LeadNotFound as exc:
            raise HTTPException(404, f"no lead {lead_id!r} in your inbox") from exc
        except ActionRefused as exc:
            return await _page(request, pool, login, status=409, error=str(exc))
        anchor = f"#lead-{found}" if action != "reject" else ""
        return RedirectResponse(f"/agent/leads?done={action}{anchor}", status_code=303)

    handler.__name__ = f"lead_{action}_form"
    return handler


for _action in agent_leads.ACTIONS:
    router.add_api_route(
        f"/agent/leads/{{lead_id}}/{_action}",
        _form_action(_action),
        methods=["POST"],
        response_class=HTMLResponse,
    )


@router.get("/agent/leads/stream")
async def inbox_stream(request: Request, login: AgentLogin) -> EventSourceResponse:
    """``offer`` (a new offer to this agent: its row and a toast) and ``changed`` (one of the
    agent's leads changed: its row, or none once it left the inbox); ``resync`` to reload."""
    feed: LeadFeed = request.app.state.lead_feed

    async def events() -> AsyncIterator[dict[str, Any]]:
        with feed.subscribe(login.user) as sub:
            yield {"event": "hello", "data": "{}"}
            while True:
                event = await sub.queue.get()
                if sub.overflowed or isinstance(event, Resync):
                    yield {"event": "resync", "data": "{}"}
                    return
                if isinstance(event, OfferMade):
                    lead = event.lead
                    yield {
                        "event": "offer",
                        "id": str(lead.lead_id),
                        "data": json.dumps(
                            {
                                "lead_id": str(lead.lead_id),
                                "toast": toast(lead),
                                "expires_at": lead.expires_at.isoformat()
                                if lead.expires_at
                                else None,
                                "html": str(render_row(lead, login.csrf, login.timezone)),
                            }
                        ),
                    }
                elif isinstance(event, LeadChanged):
                    lead_or_none = event.lead
                    yield {
                        "event": "changed",
                        "data": json.dumps(
                            {
                                "lead_id": str(event.lead_id),
                                "status": lead_or_none.status if lead_or_none else None,
                                "offered": bool(lead_or_none and lead_or_none.offered),
                                "html": str(render_row(lead_or_none, login.csrf, login.timezone))
                                if lead_or_none
                                else None,
                            }
                        ),
                    }
                await asyncio.sleep(0)

    return EventSourceResponse(events(), ping=15, send_timeout=10)


# --- Web Push ---------------------------------------------------------------------------------


@router.get("/agent/push/key")
async def push_key(request: Request, login: AgentLogin) -> dict[str, str]:
    """The VAPID public key (the browser's ``applicationServerKey``)."""
    key: agent_push.VapidKey = request.app.state.vapid_key
    return {"public_key": key.public_key}


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise HTTPException(400, "the body is not JSON") from exc


@router.post("/agent/push/subscribe", status_code=201)
async def push_subscribe(request: Request, pool: PoolDep, login: AgentFormLogin) -> dict[str, int]:
    """Store this browser's push subscription (``PushSubscription.toJSON()``, CSRF header)."""
    try:
        sub = SubscriptionIn.model_validate(await _json_body(request))
    except ValidationError as exc:
        raise HTTPException(
            422,
            "not a push subscription: "
            + "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()),
        ) from exc
    try:
        await agent_push.subscribe(pool, login.user, sub)
    except SubscriptionTaken:
        raise HTTPException(
            409,
            "this push endpoint is registered elsewhere: unsubscribe this browser from "
            "push notifications and subscribe again",
        ) from None
    return {"subscriptions": await agent_push.count(pool, login.user)}


@router.post("/agent/push/unsubscribe")
async def push_unsubscribe(
    request: Request, pool: PoolDep, login: AgentFormLogin
) -> dict[str, int]:
    try:
        body = EndpointIn.model_validate(await _json_body(request))
    except ValidationError as exc:
        raise HTTPException(422, 'send {"endpoint": ...}') from exc
    if not await agent_push.unsubscribe(pool, login.user, body.endpoint):
        raise HTTPException(404, "no such subscription of yours")
    return {"subscriptions": await agent_push.count(pool, login.user)}


@router.get("/agent-sw.js")
async def service_worker() -> FileResponse:
    """The agent's service worker, at the root so it may control /agent/ pages."""
    return FileResponse(
        STATIC / "agent-sw.js",
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
    )
