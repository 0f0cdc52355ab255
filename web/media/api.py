"""The media library as JSON for bearer tokens: upload, list, read, replace, edit.

``POST /api/v1/media?name=…&tags=a,b`` takes the file as the request body (any
``Content-Type``: the type is read from the content). Admins see and manage the whole
library of their tenant; advertisers only the media of their campaigns.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from store.media import Media, MediaVersion, Use
from web.deps import PoolDep, SettingsDep
from web.media import library
from web.media.deps import ApiLibraryUser, BlobsDep
from web.media.uploads import Wanted, tag_list, upload

router = APIRouter(prefix="/api/v1", tags=["media"])

MediaId = Annotated[str, Path(pattern=r"^m-[0-9a-f]{16}$")]
UPLOAD_RESPONSES: dict[int | str, dict[str, str]] = {
    200: {"description": "these bytes are already in your library: that media item"},
    403: {"description": "an advertiser naming a campaign that is not theirs"},
    413: {"description": "larger than FLEETHUB_MEDIA_MAX_BYTES"},
    422: {"description": "empty, corrupt, truncated or of an unsupported type (the message says)"},
}


@dataclass(frozen=True, slots=True)
class MediaOut(Media):
    """A media item as the API shows it: with its thumbnail and, on upload, ``created``
    (False when the bytes were already in the library)."""

    thumbnail_url: str
    created: bool | None = None

    @classmethod
    def of(cls, media: Media, created: bool | None = None) -> MediaOut:
        shown = {f.name: getattr(media, f.name) for f in fields(media)}
        return cls(**shown, thumbnail_url=library.thumbnail_url(media.sha256), created=created)


class MediaDetail(BaseModel):
    media: MediaOut
    versions: list[MediaVersion]
    uses: list[Use]


class VersionOut(BaseModel):
    media: MediaOut
    playlists_updated: list[library.Moved]


class MediaEdit(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    tags: (
        Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=20)]
        | None
    ) = None
    image_duration_ms: Annotated[int, Field(ge=1000, le=3_600_000)] | None = None


class StorageOut(BaseModel):
    files: int
    bytes: int
    limit_per_file: int


@router.post("/media", status_code=201, responses=UPLOAD_RESPONSES)
async def upload_media(
    request: Request,
    pool: PoolDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: ApiLibraryUser,
    name: Annotated[str, Query(min_length=1, max_length=200)],
    tags: Annotated[str, Query(max_length=2000)] = "",
    campaign_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> MediaOut:
    """Upload a file (the request body) into the library."""
    done = await upload(request, pool, blobs, settings, user, Wanted(name, tags, campaign_id))
    out = MediaOut.of(done.media, done.created)
    if not done.created:
        return JSONResponse(jsonable_encoder(out), status_code=200)  # type: ignore[return-value]
    return out


@router.get("/media")
async def list_media(
    pool: PoolDep,
    user: ApiLibraryUser,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> list[MediaOut]:
    """The library, newest first; ``q`` matches a name part, a tag or a campaign."""
    found = await library.listing(pool, user, q)
    return [MediaOut.of(m) for m in found]


@router.get("/media/storage")
async def storage(pool: PoolDep, settings: SettingsDep, user: ApiLibraryUser) -> StorageOut:
    """The files the tenant's library holds (each counted once) and their bytes."""
    used = await library.storage(pool, user)
    return StorageOut(files=used.files, bytes=used.bytes, limit_per_file=settings.media_max_bytes)


async def _found(pool: PoolDep, user: ApiLibraryUser, media_id: str) -> Media:
    found = await library.one(pool, user, media_id)
    if found is None:
        raise HTTPException(404, f"no media {media_id!r} in your library")
    return found


async def api_media(pool: PoolDep, user: ApiLibraryUser, media_id: MediaId) -> Media:
    """The media named in the path, checked before the body is read (404 first)."""
    return await _found(pool, user, media_id)


@router.get("/media/{media_id}", responses={404: {"description": "not in your library"}})
async def get_media(pool: PoolDep, user: ApiLibraryUser, media_id: MediaId) -> MediaDetail:
    """The media with its versions and the playlists holding them."""
    found = await _found(pool, user, media_id)
    versions, uses = await library.history(pool, user, media_id)
    return MediaDetail(media=MediaOut.of(found), versions=versions, uses=uses)


@router.post(
    "/media/{media_id}/versions",
    status_code=201,
    responses={**UPLOAD_RESPONSES, 404: {"description": "not in your library"}},
)
async def new_version(
    request: Request,
    pool: PoolDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: ApiLibraryUser,
    media_id: MediaId,
    update_playlists: bool = False,
) -> VersionOut:
    """Replace the media's file: the body becomes its next version. Playlists keep the
    version they were published with; ``update_playlists`` saves each playlist holding the
    previous version anew with this one and moves its assignments to it (the hub then
    publishes the new manifests)."""
    found = await _found(pool, user, media_id)
    done = await upload(request, pool, blobs, settings, user, Wanted(found.name), media_id)
    moved: list[library.Moved] = []
    if update_playlists:
        moved = await library.update_playlists(pool, user, done.media, settings.media_origin())
    return VersionOut(media=MediaOut.of(done.media, True), playlists_updated=moved)


@router.patch("/media/{media_id}", responses={404: {"description": "not in your library"}})
async def edit_media(
    pool: PoolDep,
    user: ApiLibraryUser,
    found: Annotated[Media, Depends(api_media)],
    body: MediaEdit,
) -> MediaOut:
    """Rename, retag, or set how long an image shows."""
    tags = found.tags if body.tags is None else tag_list(",".join(body.tags))
    edited = await library.edit(
        pool,
        user,
        found,
        body.name or found.name,
        tags,
        body.image_duration_ms or found.image_duration_ms,
    )
    return MediaOut.of(edited)
