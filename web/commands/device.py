"""``PUT /v1/device/screenshots/{command_id}``: a tablet uploads the screenshot it was asked for.

The URL came in the tablet's ``screenshot`` command (media/screenshot_tokens.py): a signature
over the command, the tablet and the command's expiry. One that is not genuine or has expired
gets 403; the body must be a PNG or JPEG of at most 4 MiB (413, 422 otherwise); the first
upload is kept and a second answers 409 (the URL is single-use). A refused upload stores
nothing (only two uploads racing may leave the loser's file in the blob store, unreferenced).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from media.probe import MediaRefused
from media.screenshot_tokens import check
from media.screenshots import MAX_BYTES, check_picture, screenshot_key
from store import screenshots
from web.deps import PoolDep
from web.media.deps import BlobsDep

router = APIRouter(tags=["device"])
TokenPart = Annotated[str, Query(max_length=128)]

RESPONSES: dict[int | str, dict[str, str]] = {
    403: {"description": "the upload link is not valid, has expired or is not this tablet's"},
    409: {"description": "this screenshot was uploaded already (the link is single-use)"},
    413: {"description": "larger than 4 MiB"},
    422: {"description": "not a PNG or JPEG that can be read"},
}


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BYTES:
        raise HTTPException(413, "a screenshot is at most 4 MiB")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BYTES:
            raise HTTPException(413, "a screenshot is at most 4 MiB")
    return bytes(data)


@router.put("/v1/device/screenshots/{command_id}", status_code=201, responses=RESPONSES)
async def upload_screenshot(
    request: Request,
    pool: PoolDep,
    blobs: BlobsDep,
    command_id: uuid.UUID,
    tablet: TokenPart = "",
    expires: TokenPart = "",
    sig: TokenPart = "",
) -> dict[str, str | int]:
    """Keep the screenshot of a ``screenshot`` command (the body is the image)."""
    key = request.app.state.media_key
    verdict = check(key, str(command_id), tablet, expires, sig, datetime.now(UTC))
    if verdict == "expired":
        raise HTTPException(403, "the upload link has expired with its command")
    if verdict != "ok":
        raise HTTPException(403, "the upload link is not valid")
    allowed = await screenshots.may_upload(pool, command_id, tablet)
    if allowed == "taken":
        raise HTTPException(409, "this screenshot was uploaded already")
    if allowed == "refused":
        raise HTTPException(403, "this tablet may not upload this screenshot")
    data = await _body(request)
    try:
        picture = await asyncio.to_thread(check_picture, data)
    except MediaRefused as exc:
        raise HTTPException(422, str(exc)) from None
    sha256 = hashlib.sha256(data).hexdigest()
    await blobs.put_bytes(screenshot_key(sha256), data)  # content-addressed: a retry is harmless
    kept = await screenshots.add(
        pool, command_id, tablet, sha256, picture.content_type, len(data),
        picture.width, picture.height,
    )  # fmt: skip
    if not kept:  # a concurrent upload (or a revocation) came first
        raise HTTPException(409, "this screenshot was uploaded already")
    return {"sha256": sha256, "width": picture.width, "height": picture.height}
