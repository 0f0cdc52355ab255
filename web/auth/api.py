"""API tokens (JWT) for scripts and integrations: an e-mail and password for a bearer token.

Failed attempts are throttled like the panel's sign-in form (web/auth/pages.py), with the
same counts (web/auth/throttle.py). Signing out ends the token's session at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, OAuth2PasswordRequestForm
from pydantic import BaseModel

from web.auth.throttle import Throttles
from web.deps import PoolDep, SettingsDep, bearer, bearer_user
from web.security import authenticate, close_session, issue_token, open_session, token_claims

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


@router.post("/token")
async def api_token(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> TokenOut:
    """Trade an e-mail (``username``) and password for a bearer token."""
    throttles: Throttles = request.app.state.throttles
    if wait := await throttles.retry_after(request, form.username):
        raise HTTPException(
            429, f"too many failed sign-ins; wait {wait} s", headers={"Retry-After": str(wait)}
        )
    user = await authenticate(pool, form.username, form.password)
    if user is None:
        await throttles.failed(request, form.username)
        raise HTTPException(401, "wrong e-mail or password", headers={"WWW-Authenticate": "Bearer"})
    await throttles.succeeded(request, form.username)
    minutes = settings.api_token_minutes
    session = await open_session(pool, user, timedelta(minutes=minutes), kind="api")
    token = issue_token(user, request.app.state.secret_key, minutes, session)
    return TokenOut(access_token=token, expires_in=minutes * 60)


@router.post("/logout", status_code=204, dependencies=[Depends(bearer_user)])
async def api_logout(
    request: Request,
    pool: PoolDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """End the bearer token's session: the token (and nothing else) stops working at once."""
    claims = token_claims(
        credentials.credentials if credentials else "", request.app.state.secret_key
    )
    if claims is not None:
        await close_session(pool, claims[1])
    return Response(status_code=204)
