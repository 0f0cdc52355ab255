"""Dependencies of the admin-only routes: size-limited CSRF forms and the admin API user.

A form's size is checked twice: its ``Content-Length`` before the body is read
(so an oversized upload is refused unparsed), then the parsed fields (a body
sent without a length).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import FormData, UploadFile

from hub.users import User
from web.deps import AdminSession, ApiUser, CsrfSession, Session, SettingsDep


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"The form is larger than the {limit // 1024} KiB limit: "
                              "send fewer or shorter items.")  # fmt: skip


async def body_size(request: Request, settings: SettingsDep) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > settings.max_upload_bytes:
        raise too_large(settings.max_upload_bytes)


def form_size(form: FormData) -> int:
    return sum(len(k) + (v.size or 0 if isinstance(v, UploadFile) else len(v.encode()))
               for k, v in form.multi_items())  # fmt: skip


@dataclass(frozen=True, slots=True)
class AdminForm:
    session: Session
    form: FormData

    @property
    def user(self) -> User:
        return self.session.user


async def admin_form(
    request: Request,
    settings: SettingsDep,
    admin: AdminSession,
    _size: Annotated[None, Depends(body_size)],  # before the CSRF check parses the body
    session: CsrfSession,
) -> AdminForm:
    """An admin's form that carries the session's CSRF token and fits the upload limit."""
    form = await request.form()
    if form_size(form) > settings.max_upload_bytes:
        raise too_large(settings.max_upload_bytes)
    return AdminForm(session, form)


AdminFormDep = Annotated[AdminForm, Depends(admin_form)]


async def api_admin(user: ApiUser) -> User:
    if not user.is_admin:
        raise HTTPException(403, "this needs the admin role")
    return user


ApiAdmin = Annotated[User, Depends(api_admin)]
