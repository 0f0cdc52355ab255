"""Real-browser fixtures: the panel as a `fleethub web` process, driven by Debian's Chromium.

Playwright for Python talks to the system ``chromium`` (installed by
``scripts/bootstrap --with-browser``); no browser is downloaded. Screenshots
go to ``tests/artifacts/`` and are kept.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from broker.processes import Child, free_port
from store.users import add_user
from tests.helpers import store
from tests.web.conftest import PASSWORD, Conn

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("FLEETHUB_CHROMIUM") or shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: run scripts/bootstrap --with-browser")
    return path


@pytest.fixture(scope="session")
def web_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The panel, started as `fleethub web` against the test store."""
    var = tmp_path_factory.mktemp("web")
    port = free_port()
    env = {
        **os.environ,
        "FLEETHUB_DATABASE_URL": database_url,
        "FLEETHUB_VAR_DIR": str(var),
        "FLEETHUB_WEB_PORT": str(port),
        "FLEETHUB_WEB_HOST": "127.0.0.1",
        # The push tests' own panel sends (and checks) Web Push for this shared store.
        "FLEETHUB_WEB_PUSH_SENDER": "false",
    }
    child = Child("web", [sys.executable, "-m", "cli.main", "web"], var / "web.log", env=env)
    try:
        child.wait_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.stop()


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=chromium_path, args=["--no-sandbox", "--headless"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    opened = await context.new_page()
    yield opened
    await context.close()


def default_tenant_user(conn: Conn, role: str, fleets: list[str]) -> str:
    """A user of the 'default' tenant (where fleet_factory puts its fleets)."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    store(
        conn,
        lambda aconn: add_user(
            aconn,
            tenant_id="default",
            email=email,
            name=f"Test {role}",
            role=role,
            password=PASSWORD,
            fleets=fleets,
            actor="test",
        ),
    )
    return email


async def sign_in(page: Page, web_url: str, email: str, target: str = "/") -> None:
    await page.goto(f"{web_url}/login?next={target}")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{web_url}{target}")


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
