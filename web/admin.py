"""Dependencies of the admin-only routes: CSRF-checked, size-limited forms; the admin API user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import FormData

from hub.users import User
from web.deps import AdminSession, ApiUser, CsrfSession, Session


@dataclass(frozen=True, slots=True)
class AdminForm:
    session: Session
    form: FormData

    @property
    def user(self) -> User:
        return self.session.user


async def admin_form(request: Request, admin: AdminSession, session: CsrfSession) -> AdminForm:
    """An admin's form that carries the session's CSRF token and fits the upload limit
    (both checked by :func:`web.deps.check_csrf`)."""
    return AdminForm(session, await request.form())


AdminFormDep = Annotated[AdminForm, Depends(admin_form)]


async def api_admin(user: ApiUser) -> User:
    if not user.is_admin:
        raise HTTPException(403, "this needs the admin role")
    return user


ApiAdmin = Annotated[User, Depends(api_admin)]
