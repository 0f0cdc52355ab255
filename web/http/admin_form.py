"""The posted form of an admin-only page, CSRF-checked and size-limited (web.deps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from store.users import User
from web.deps import AdminCsrfSession, Session


@dataclass(frozen=True, slots=True)
class AdminForm:
    session: Session
    form: FormData

    @property
    def user(self) -> User:
        return self.session.user


async def admin_form(request: Request, session: AdminCsrfSession) -> AdminForm:
    """An admin's form that carries the session's CSRF token and fits the upload limit
    (both checked by :func:`web.deps.check_csrf`)."""
    return AdminForm(session, await request.form())


AdminFormDep = Annotated[AdminForm, Depends(admin_form)]
