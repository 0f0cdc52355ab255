"""FastAPI dependencies: the pool, settings, the signed-in user (cookie or bearer) and CSRF."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool
from starlette.datastructures import FormData, UploadFile

from config.settings import Settings
from store.users import User
from store.web_sessions import BrowserSession
from web.live.broker_link import BrokerLink
from web.security import (
    PERSONAL_PREFIX,
    SESSION_COOKIE,
    csrf_matches,
    load_api_session,
    load_session,
    personal_token_user,
    token_claims,
)


class LoginRequired(Exception):
    """Raised by panel routes without a valid session; answered with a redirect to /login."""


def get_pool(request: Request) -> AsyncConnectionPool:
    pool: AsyncConnectionPool = request.app.state.pool
    return pool


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


PoolDep = Annotated[AsyncConnectionPool, Depends(get_pool)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_broker_link(request: Request) -> BrokerLink:
    link: BrokerLink = request.app.state.broker_link
    return link


BrokerLinkDep = Annotated[BrokerLink, Depends(get_broker_link)]


@dataclass(frozen=True, slots=True)
class Login:
    user: User
    csrf: str
    zone_choice: str | None = None  # the time zone chosen on the profile page
    fleet_zones: tuple[str, ...] = ()  # the zones of the fleets the user sees

    @property
    def timezone(self) -> str:
        """Where this user's times are shown: their choice, else their fleets' one zone,
        else UTC (fleets in several zones; each tile still shows its own fleet's)."""
        if self.zone_choice:
            return self.zone_choice
        return self.fleet_zones[0] if len(self.fleet_zones) == 1 else "UTC"

    def zone_for(self, fleet_zone: str | None) -> str:
        """The zone for one fleet's times: the user's choice, else that fleet's."""
        return self.zone_choice or fleet_zone or self.timezone


def login_of(found: BrowserSession) -> Login:
    return Login(found.user, found.csrf, found.zone_choice, found.fleet_zones)


async def get_login(request: Request, pool: PoolDep) -> Login:
    token = request.cookies.get(SESSION_COOKIE)
    found = await load_session(pool, token) if token else None
    if found is None:
        raise LoginRequired
    return login_of(found)


LoginDep = Annotated[Login, Depends(get_login)]


async def optional_login(request: Request) -> Login | None:
    """Whoever is signed in, for pages anyone may see (error pages): None when nobody is,
    or when the store cannot say."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        found = await load_session(get_pool(request), token)
    except psycopg.Error:
        return None
    return None if found is None else login_of(found)


async def fleet_login(login: LoginDep) -> Login:
    if not login.user.can_view_fleet:
        raise HTTPException(403, "the fleet views are for admins and fleet owners")
    return login


async def admin_login(login: LoginDep) -> Login:
    if not login.user.is_admin:
        raise HTTPException(403, "this needs the admin role")
    return login


FleetLogin = Annotated[Login, Depends(fleet_login)]
AdminLogin = Annotated[Login, Depends(admin_login)]


def too_large(limit: int) -> HTTPException:
    return HTTPException(
        413, f"The form is larger than the {limit // 1024} KiB limit: send fewer or shorter items."
    )


def form_size(form: FormData) -> int:
    return sum(
        len(k) + (v.size or 0 if isinstance(v, UploadFile) else len(v.encode()))
        for k, v in form.multi_items()
    )


async def check_csrf(request: Request, login: LoginDep, settings: SettingsDep) -> Login:
    """Every state-changing form carries the session's CSRF token (field or header) and fits
    ``max_upload_bytes``: its declared length is checked before the body is read, the parsed
    fields after (a body sent without a length)."""
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    form = await request.form()
    if form_size(form) > limit:
        raise too_large(limit)
    given = request.headers.get("x-csrf-token")
    if given is None:
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if not csrf_matches(login.csrf, given):
        raise HTTPException(403, "the form expired or did not come from this panel: reload it")
    return login


FormLogin = Annotated[Login, Depends(check_csrf)]


async def admin_form_login(admin: AdminLogin, login: FormLogin) -> Login:
    """An admin's form post: the role first, then the CSRF token and size (check_csrf)."""
    return login


AdminFormLogin = Annotated[Login, Depends(admin_form_login)]

bearer = HTTPBearer(
    auto_error=False,
    description="a personal API token (the panel's profile page) or a token from"
    " POST /api/v1/auth/token",
)


async def bearer_user(
    request: Request,
    pool: PoolDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The bearer token's user, whatever their role (401 without a valid token, once the
    API session the token was issued with has ended: signed out, password reset, expired,
    or once a personal token was revoked or expired)."""
    unauthorized = HTTPException(
        401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
    )
    if credentials is None:
        raise unauthorized
    given = credentials.credentials
    if given.startswith(PERSONAL_PREFIX):
        user = await personal_token_user(pool, given)
    else:
        claims = token_claims(given, request.app.state.secret_key)
        user = await load_api_session(pool, *claims) if claims is not None else None
    if user is None:
        raise unauthorized
    return user


BearerUser = Annotated[User, Depends(bearer_user)]


async def api_user(user: BearerUser) -> User:
    if not user.can_view_fleet:
        raise HTTPException(403, "the fleet API is for admins and fleet owners")
    return user


ApiUser = Annotated[User, Depends(api_user)]


async def api_admin(user: ApiUser) -> User:
    if not user.is_admin:
        raise HTTPException(403, "this needs the admin role")
    return user


ApiAdmin = Annotated[User, Depends(api_admin)]


# --- lead agents (web/agents/pages.py, web/agents/api.py) --------------------------------
# The inbox's list, stream and push routes answer 403 to other roles; routes naming a lead take
# any signed-in user and answer 404 unless the lead is the agent's own (web/agents/inbox.py).


async def agent_login(login: LoginDep) -> Login:
    if login.user.role != "agent":
        raise HTTPException(403, "the lead inbox is for agents")
    return login


AgentLogin = Annotated[Login, Depends(agent_login)]


async def agent_form_login(agent: AgentLogin, login: FormLogin) -> Login:
    """An agent's form post: the role first, then the CSRF token and size (check_csrf)."""
    return login


AgentFormLogin = Annotated[Login, Depends(agent_form_login)]


async def api_agent(user: BearerUser) -> User:
    if user.role != "agent":
        raise HTTPException(403, "the agent API is for agents")
    return user


ApiAgent = Annotated[User, Depends(api_agent)]
