"""``GET``/``HEAD /media/{sha256}``: a tablet downloads a file of its tenant's library.

The URL carries the per-tablet token the hub signed into the manifest (media/tokens.py):
a token that is not genuine (tampered, another key) or has expired gets 403, as does one
of a tablet that was revoked or deleted; a file that is not in the tablet's tenant's
library gets 404, whether another tenant holds it or nobody does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from media.blobs import blob_key
from media.tokens import check
from store import media as media_store
from web.deps import PoolDep
from web.media.deps import BlobsDep
from web.media.serve import blob_response

router = APIRouter(tags=["device"])

Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
TokenPart = Annotated[str, Query(max_length=128)]


RESPONSES: dict[int | str, dict[str, str]] = {
    206: {"description": "the requested byte range"},
    304: {"description": "not modified (If-None-Match)"},
    403: {"description": "the token is missing, not genuine or expired"},
    404: {"description": "no such file in the tablet's tenant's library"},
    416: {"description": "the range is outside the file"},
}


@router.get("/media/{sha256}", responses=RESPONSES)
@router.head("/media/{sha256}", responses=RESPONSES)
async def download(
    request: Request,
    pool: PoolDep,
    blobs: BlobsDep,
    sha256: Sha256,
    tablet: TokenPart = "",
    expires: TokenPart = "",
    sig: TokenPart = "",
) -> Response:
    """The file, for the tablet its download token names (URLs come in its manifest)."""
    checked = check(request.app.state.media_key, tablet, expires, sig, datetime.now(UTC))
    if checked.verdict == "expired":
        raise HTTPException(403, "the download link has expired: use the newest manifest's")
    if checked.verdict != "ok":
        raise HTTPException(403, "the download link is not valid")
    async with pool.connection() as conn:
        found = await media_store.tablet_file(conn, tablet, sha256)
    if found is None or found.revoked:
        raise HTTPException(403, "this tablet may not download media")
    if not found.owned or found.bytes is None or found.content_type is None:
        raise HTTPException(404, "no such file in your library")
    return blob_response(request, blobs, blob_key(sha256), sha256, found.bytes, found.content_type)
