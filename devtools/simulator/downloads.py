"""Downloading a library file as a tablet does: over HTTP, resumed with ``Range`` after an
interruption, verified against its SHA-256 (aiohttp; loopback only, like the MQTT side).

Nothing is kept but the running digest and the byte count: a simulated tablet proves it
received the file without storing it, so thousands can download at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from devtools.simulator.addresses import loopback_host
from devtools.simulator.errors import SimulatorError

CHUNK = 256 * 1024


class DownloadFailed(SimulatorError):
    """One attempt failed; ``resumable``: what arrived is kept for a ``Range`` retry."""

    def __init__(self, reason: str, resumable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.resumable = resumable


@dataclass
class Partial:
    """A file being received: the digest so far and how many bytes it covers."""

    digest: Any = field(default_factory=hashlib.sha256)
    done: int = 0
    total: int = 0


class MediaClient:
    """One HTTP connection pool for a fleet's downloads (opened in its event loop)."""

    def __init__(self, timeout_s: float = 60.0, limit: int = 1000) -> None:
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout_s)
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self,
        url: str,
        sha256: str,
        partial: Partial,
        on_progress: Callable[[Partial], None] | None = None,
        stop_after: int | None = None,
    ) -> bool:
        """Receive the rest of the file into ``partial`` and check its digest; True when it
        resumed an earlier attempt (206 to its ``Range``).

        ``stop_after``: break the connection after this many bytes of this attempt (the
        tests' interruption). Raises :class:`DownloadFailed`."""
        try:
            loopback_host(urlsplit(url).hostname or "")  # load tests stay on this machine
        except ValueError as exc:
            raise DownloadFailed(str(exc), resumable=False) from None
        headers = (
            {"If-Range": f'"{sha256}"', "Range": f"bytes={partial.done}-"} if partial.done else {}
        )
        received = 0
        resumed = False
        try:
            async with self._client().get(url, headers=headers) as response:
                if response.status not in (200, 206):
                    raise DownloadFailed(f"HTTP {response.status}", resumable=False)
                if response.status == 200 and partial.done:
                    partial.digest, partial.done = hashlib.sha256(), 0  # a fresh copy
                resumed = response.status == 206
                length = response.content_length
                if length is not None:
                    partial.total = partial.done + length
                async for data in response.content.iter_chunked(CHUNK):
                    chunk = data if stop_after is None else data[: stop_after - received]
                    partial.digest.update(chunk)
                    partial.done += len(chunk)
                    received += len(chunk)
                    if on_progress is not None:
                        on_progress(partial)
                    if stop_after is not None and received >= stop_after:
                        raise DownloadFailed("interrupted", resumable=True)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DownloadFailed(f"{type(exc).__name__}: {exc}"[:200], resumable=True) from None
        if partial.total and partial.done < partial.total:
            raise DownloadFailed("the connection ended early", resumable=True)
        if partial.digest.hexdigest() != sha256:
            raise DownloadFailed("SHA-256 mismatch", resumable=False)
        return resumed
