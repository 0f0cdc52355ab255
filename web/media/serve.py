"""Answering a request for a stored file: whole or one byte range, streamed from the blob store.

The ETag is the file's SHA-256 (the content never changes under it), so responses are
``Cache-Control: immutable``; ``If-None-Match`` answers 304, ``Range`` 206 (one range;
several are answered whole, as RFC 9110 allows), an unsatisfiable one 416, and
``If-Range`` with another validator the whole file. ``HEAD`` gets the same headers and
no body. Nothing is read into memory beyond one chunk.
"""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from media.blobs import BlobStore

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
IMMUTABLE = "public, max-age=31536000, immutable"


def _range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """``(start, end)`` (end exclusive) of a satisfiable single range; None: no range (send
    it whole); False: unsatisfiable."""
    if header is None:
        return None
    match = RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None  # several ranges, or another unit: the whole file
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        return (max(0, size - suffix), size) if suffix > 0 else False
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        return False
    return start, end


def blob_response(
    request: Request,
    blobs: BlobStore,
    key: str,
    sha256: str,
    size: int,
    content_type: str,
    cache_control: str = IMMUTABLE,
) -> Response:
    etag = f'"{sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
        "Content-Type": content_type,
    }
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    wanted = _range(request.headers.get("range"), size)
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        wanted = None  # the client's copy is of other content: send it whole
    if wanted is False:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers)
    start, end = wanted if isinstance(wanted, tuple) else (0, size)
    status = 206 if isinstance(wanted, tuple) else 200
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    return StreamingResponse(
        blobs.read(key, start, end), status_code=status, headers=headers, media_type=content_type
    )
