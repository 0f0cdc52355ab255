"""The media library pages: upload (drag and drop, several files, progress), browse,
versions, where each is used, storage; thumbnails and previews for signed-in users.

The same as JSON for bearer tokens: web/media/api.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from media.blobs import blob_key, thumbnail_key
from store import media as media_store
from store.media import Media
from web.deps import FormLogin, Login, PoolDep, SettingsDep
from web.http.templating import TEMPLATES
from web.media import library
from web.media.deps import BlobsDep, LibraryLogin, UploadLogin, library_login
from web.media.serve import blob_response
from web.media.uploads import MAX_NAME, Wanted, tag_list, upload, user_campaigns

router = APIRouter(include_in_schema=False)

MediaId = Annotated[str, Path(pattern=r"^m-[0-9a-f]{16}$")]
Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
PRIVATE = "private, max-age=86400"
DONE = {"saved": "Saved.", "uploaded": "Uploaded."}


def size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def seconds(ms: int | None) -> str:
    return "" if ms is None else f"{ms / 1000:.1f} s"


def _render(
    request: Request, template: str, login: Login, status: int = 200, **context: Any
) -> HTMLResponse:
    helpers = {"size": size, "seconds": seconds, "thumbnail_url": library.thumbnail_url}
    return TEMPLATES.TemplateResponse(
        request, template, {"login": login, **helpers, **context}, status_code=status
    )


@router.get("/library", response_class=HTMLResponse)
async def library_page(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    login: LibraryLogin,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    user = login.user
    return _render(
        request,
        "library.html",
        login,
        media=await library.listing(pool, user, q),
        storage=await library.storage(pool, user),
        campaigns=await user_campaigns(pool, user),
        limit=settings.media_max_bytes,
        q=q or "",
    )


@router.post("/library/upload")
async def upload_file(
    request: Request,
    pool: PoolDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    login: UploadLogin,
    name: Annotated[str, Query(min_length=1, max_length=MAX_NAME)],
    tags: Annotated[str, Query(max_length=2000)] = "",
    campaign_id: Annotated[str | None, Query(max_length=128)] = None,
) -> JSONResponse:
    """One file of the page's drop zone (the request body), sent by web/static/library.js."""
    done = await upload(
        request, pool, blobs, settings, login.user, Wanted(name, tags, campaign_id or None)
    )
    m = done.media
    body = {"media_id": m.media_id, "name": m.name, "created": done.created}
    return JSONResponse(body, status_code=201 if done.created else 200)


async def _found(pool: PoolDep, login: Login, media_id: str) -> Media:
    found = await library.one(pool, login.user, media_id)
    if found is None:
        raise HTTPException(404, f"no media {media_id!r} in your library")
    return found


@router.get("/library/{media_id}", response_class=HTMLResponse)
async def media_page(
    request: Request,
    pool: PoolDep,
    login: LibraryLogin,
    media_id: MediaId,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    found = await _found(pool, login, media_id)
    versions, uses = await library.history(pool, login.user, media_id)
    return _render(
        request,
        "library_media.html",
        login,
        m=found,
        versions=versions,
        uses=uses,
        file_url=library.file_url,
        done=DONE.get(done or ""),
        error=None,
    )


async def library_form(request: Request, login: FormLogin) -> tuple[Login, Any]:
    """A posted form of the library pages: CSRF-checked (web.deps), admins and advertisers."""
    await library_login(login)
    return login, await request.form()


@router.post("/library/{media_id}", response_class=HTMLResponse)
async def edit_media(
    request: Request,
    pool: PoolDep,
    posted: Annotated[tuple[Login, Any], Depends(library_form)],
    media_id: MediaId,
) -> Response:
    login, form = posted
    found = await _found(pool, login, media_id)
    name = str(form.get("name") or "").strip()
    seconds_text = str(form.get("image_seconds") or "").strip()
    error = None
    try:
        tags = tag_list(str(form.get("tags") or ""))
        show_ms = round(float(seconds_text) * 1000) if seconds_text else found.image_duration_ms
    except (HTTPException, ValueError) as exc:
        error = getattr(exc, "detail", "The image duration is a number of seconds.")
        tags, show_ms = found.tags, found.image_duration_ms
    if error is None and not 1 <= len(name) <= MAX_NAME:
        error = f"The name must be 1 to {MAX_NAME} characters."
    if error is None and not 1000 <= show_ms <= 3_600_000:
        error = "An image shows for 1 to 3600 seconds."
    if error is not None:
        versions, uses = await library.history(pool, login.user, media_id)
        return _render(
            request,
            "library_media.html",
            login,
            422,
            m=found,
            versions=versions,
            uses=uses,
            file_url=library.file_url,
            done=None,
            error=error,
        )
    await library.edit(pool, login.user, found, name, tags, show_ms)
    return RedirectResponse(f"/library/{media_id}?done=saved", status_code=303)


async def library_media(pool: PoolDep, login: LibraryLogin, media_id: MediaId) -> Media:
    """The media named in the path: another tenant's is missing (404) before anything else."""
    return await _found(pool, login, media_id)


@router.post("/library/{media_id}/versions")
async def replace_file(
    request: Request,
    pool: PoolDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    found: Annotated[Media, Depends(library_media)],
    login: UploadLogin,
    media_id: MediaId,
    update_playlists: bool = False,
) -> JSONResponse:
    """A new file for the media (the request body), sent by web/static/library.js."""
    done = await upload(request, pool, blobs, settings, login.user, Wanted(found.name), media_id)
    moved = []
    if update_playlists and login.user.is_admin:
        moved = await library.update_playlists(
            pool, login.user, done.media, settings.media_origin()
        )
    body = {
        "media_id": media_id,
        "version": done.media.version,
        "playlists_updated": len(moved),
    }
    return JSONResponse(body, status_code=201)


async def _tenant_file(pool: PoolDep, login: Login, sha256: str) -> tuple[int, str]:
    campaigns = await user_campaigns(pool, login.user)
    async with pool.connection() as conn:
        found = await media_store.tenant_file(conn, login.user.tenant_id, sha256, campaigns)
    if found is None:
        raise HTTPException(404, "no such file in your library")
    return found


@router.get("/library/thumbnails/{sha256}.jpg")
async def thumbnail(
    pool: PoolDep, blobs: BlobsDep, login: LibraryLogin, sha256: Sha256
) -> Response:
    await _tenant_file(pool, login, sha256)
    try:
        data = await blobs.read_all(thumbnail_key(sha256))
    except FileNotFoundError:
        raise HTTPException(404, "no thumbnail") from None
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": PRIVATE})


@router.api_route("/library/files/{sha256}", methods=["GET", "HEAD"])
async def media_file(
    request: Request, pool: PoolDep, blobs: BlobsDep, login: LibraryLogin, sha256: Sha256
) -> Response:
    """The file for the panel's previews (Range and ETag as for tablets)."""
    size_, content_type = await _tenant_file(pool, login, sha256)
    return blob_response(
        request, blobs, blob_key(sha256), sha256, size_, content_type, cache_control=PRIVATE
    )
