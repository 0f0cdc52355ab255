"""The posted form of an admin-only page, CSRF-checked and size-limited (web.deps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from store.users import User
from web.deps import AdminFormLogin, Login


@dataclass(frozen=True, slots=True)
class AdminForm:
    login: Login
    form: FormData

    @property
    def user(self) -> User:
        return self.login.user


async def admin_form(request: Request, login: AdminFormLogin) -> AdminForm:
    """An admin's form that carries the session's CSRF token and fits the upload limit
    (both checked by :func:`web.deps.check_csrf`)."""
    return AdminForm(login, await request.form())


AdminFormDep = Annotated[AdminForm, Depends(admin_form)]
