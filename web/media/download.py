"""``GET``/``HEAD /media/{sha256}``: a tablet downloads a file of its tenant's library.

The URL carries the per-tablet token the hub signed into the manifest (media/tokens.py):
a token that is not genuine (tampered, another key) or has expired gets 403, as does one
of a revoked tablet; a file that is not in the tablet's tenant's library gets 404, whether
another tenant holds it or nobody does. The lookups are shared by concurrent requests
(web/media/access.py): a whole fleet downloading at once costs the store one query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from media.blobs import blob_key
from media.tokens import check
from web.media.access import DownloadAccess
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
    blobs: BlobsDep,
    sha256: Sha256,
    tablet: TokenPart = "",
    tenant: TokenPart = "",
    expires: TokenPart = "",
    sig: TokenPart = "",
) -> Response:
    """The file, for the tablet its download token names (URLs come in its manifest)."""
    key = request.app.state.media_key
    verdict = check(key, tablet, tenant, expires, sig, datetime.now(UTC))
    if verdict == "expired":
        raise HTTPException(403, "the download link has expired: use the newest manifest's")
    if verdict != "ok":
        raise HTTPException(403, "the download link is not valid")
    access: DownloadAccess = request.app.state.download_access
    if tablet in await access.revoked(tenant):
        raise HTTPException(403, "this tablet may not download media")
    found = await access.file(tenant, sha256)
    if found is None:
        raise HTTPException(404, "no such file in your library")
    size, content_type = found
    return blob_response(request, blobs, blob_key(sha256), sha256, size, content_type)
