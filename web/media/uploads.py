"""Receiving an upload over HTTP, for the panel page and the JSON API alike.

The request body is the file itself (no form: nothing to parse or hold), streamed to the
staging area as it arrives (media/ingest.py). A declared ``Content-Length`` over the limit
is refused before a byte is read; a body that grows past it is cut off there. Refusals
are 413 (too large), 422 (empty, corrupt, truncated or of an unsupported type) and 403
(an advertiser naming a campaign that is not theirs), each with a message for the person.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request
from psycopg_pool import AsyncConnectionPool

from config.settings import Settings
from media.blobs import BlobStore
from media.ingest import Ingested, NotInLibrary, TooLarge, Upload, ingest, receive, size_refusal
from media.probe import MediaRefused
from store import media as media_store
from store.users import User

MAX_NAME = 200
MAX_TAGS = 20
MAX_TAG = 64


@dataclass(frozen=True, slots=True)
class Wanted:
    """What the uploader said about the file (query parameters)."""

    name: str
    tags: str = ""
    campaign_id: str | None = None


def tag_list(text: str) -> list[str]:
    tags = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG for t in tags):
        raise HTTPException(422, f"at most {MAX_TAGS} tags of at most {MAX_TAG} characters each")
    return tags


def clean_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise HTTPException(422, f"the name must be 1 to {MAX_NAME} characters")
    return name


async def user_campaigns(pool: AsyncConnectionPool, user: User) -> list[str] | None:
    """The campaigns whose media the user may see and upload (None: all, an admin)."""
    if user.is_admin:
        return None
    async with pool.connection() as conn:
        return await media_store.campaigns(conn, user.user_id)


async def _campaign(pool: AsyncConnectionPool, user: User, wanted: str | None) -> str | None:
    """The campaign tag the upload gets: any (or none) for an admin; one of their own for an
    advertiser (their only one when they name none)."""
    allowed = await user_campaigns(pool, user)
    if allowed is None:
        return wanted or None
    if not wanted and len(allowed) == 1:
        return allowed[0]
    if wanted not in allowed:
        mine = ", ".join(allowed) or "none yet"
        raise HTTPException(403, f"advertisers upload to their own campaigns only ({mine})")
    return wanted


async def upload(
    request: Request,
    pool: AsyncConnectionPool,
    blobs: BlobStore,
    settings: Settings,
    user: User,
    wanted: Wanted,
    media_id: str | None = None,
) -> Ingested:
    """Receive, check and record the request's body as a new media item (or as a new version
    of ``media_id``)."""
    limit = settings.media_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, str(size_refusal(limit)))
    campaign = await _campaign(pool, user, wanted.campaign_id)
    details = Upload(
        user.tenant_id,
        user.email,
        clean_name(wanted.name),
        tag_list(wanted.tags),
        campaign,
        media_id,
    )
    try:
        received = await receive(request.stream(), blobs, limit)
        async with pool.connection() as conn:
            return await ingest(conn, blobs, received, details)
    except TooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    except MediaRefused as exc:
        raise HTTPException(422, str(exc)) from None
    except NotInLibrary:
        raise HTTPException(404, f"no media {media_id!r} in your library") from None
