"""What the management tests share: posting a panel form as a browser does, reading
NOTIFYs the hub would hear."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from fastapi.testclient import TestClient
from httpx2 import Response


def post_form(
    client: TestClient, url: str, csrf: str, fields: Mapping[str, str | list[str]] | None = None
) -> Response:
    return client.post(url, data={"csrf_token": csrf, **(fields or {})}, follow_redirects=False)


@contextmanager
def hub_ears(database_url: str) -> Iterator[list[str]]:
    """The ``fleethub_tablets`` and ``fleethub_leads`` NOTIFYs committed meanwhile, as
    ``channel payload`` (read when the block ends)."""
    heard: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.add_notify_handler(lambda n: heard.append(f"{n.channel} {n.payload}"))
        listener.execute("LISTEN fleethub_tablets")
        listener.execute("LISTEN fleethub_leads")
        yield heard
        listener.execute("SELECT 1")  # a round trip: notifications committed before it arrive
