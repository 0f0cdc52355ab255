"""The media routes' dependencies: the blob store, and who may use the library."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from media.blobs import BlobStore
from store.users import User
from web.deps import BearerUser, Login, LoginDep
from web.security import csrf_matches


def get_blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs
    return blobs


BlobsDep = Annotated[BlobStore, Depends(get_blobs)]
LIBRARY_ROLES = ("admin", "advertiser")


def _library_user(user: User) -> None:
    if user.role not in LIBRARY_ROLES:
        raise HTTPException(403, "the media library is for admins and advertisers")


async def library_login(login: LoginDep) -> Login:
    _library_user(login.user)
    return login


async def api_library_user(user: BearerUser) -> User:
    _library_user(user)
    return user


LibraryLogin = Annotated[Login, Depends(library_login)]
ApiLibraryUser = Annotated[User, Depends(api_library_user)]


async def upload_login(request: Request, login: LibraryLogin) -> Login:
    """A panel upload: its body is the file (streamed, not a form), so the session's CSRF
    token comes in the ``X-CSRF-Token`` header."""
    if not csrf_matches(login.csrf, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "the page expired or did not come from this panel: reload it")
    return login


UploadLogin = Annotated[Login, Depends(upload_login)]
