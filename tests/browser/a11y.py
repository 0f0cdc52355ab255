"""What every panel page is checked for in Chromium: axe-core finds nothing, nothing is wider
than the screen, and no page shows the hub's jargon; and the pages to check, found the way a
user finds them (each role's menu, then one page of each kind each of those links to).

axe-core is vendored (tests/browser/vendor/axe-core, scripts/vendor-axe) and injected into
a context that bypasses the page's CSP; everything else runs as the page does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Page

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
# Words of the hub and the store that no page may show a user.
JARGON = ("reason: will", "reason: timeout", "uptime_hourly", "hub_metrics", "bearer token")
# Links that are no page to check: downloads, the API, streams, sign-out, the passenger form.
NOT_PAGES = re.compile(r"(\.csv|\.pdf|\.png|\.svg|\.js|/stream)$|^/(api|v1|static|l)/|^/logout")


@dataclass(frozen=True)
class Finding:
    """One thing wrong with one page at one viewport."""

    path: str
    viewport: str
    what: str

    def __str__(self) -> str:
        return f"{self.viewport} {self.path}: {self.what}"


async def new_context(browser: Browser, viewport: str) -> BrowserContext:
    """A context of this viewport; CSP bypassed only so that axe can be injected."""
    return await browser.new_context(
        viewport=VIEWPORTS[viewport],  # type: ignore[arg-type]
        bypass_csp=True,
        is_mobile=viewport == "phone",
        has_touch=viewport == "phone",
    )


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of the page as it is now (every rule but the experimental)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
            }));
        }"""
    )
    return found


async def overflow(page: Page) -> int:
    """How many pixels the page is wider than the screen (0: no sideways scroll)."""
    width: int = await page.evaluate(
        """() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)
                 - document.documentElement.clientWidth"""
    )
    screen = page.viewport_size
    layout: int = await page.evaluate("() => document.documentElement.clientWidth")
    beyond = layout - screen["width"] if screen else 0  # a mobile viewport widened to fit
    return max(0, width, beyond)


async def widest(page: Page) -> str:
    """The innermost element that reaches furthest past the screen's right edge."""
    found: str = await page.evaluate(
        r"""() => {
            let best = null, right = document.documentElement.clientWidth;
            for (const el of document.body.querySelectorAll("*")) {
                const r = el.getBoundingClientRect().right;
                if (r > right || (best && r === right && best.contains(el))) {
                    best = el;
                    right = r;
                }
            }
            if (!best) return "none found";
            const id = best.id ? "#" + best.id : "";
            const cls = best.className && typeof best.className === "string"
                ? "." + best.className.trim().split(/\s+/).join(".") : "";
            const name = best.tagName.toLowerCase() + id + cls;
            return name + " right edge at " + Math.round(right) + " px";
        }"""
    )
    return found


async def menu_links(page: Page) -> list[str]:
    """The paths the signed-in user's menu links to, in order."""
    hrefs: list[str] = await page.eval_on_selector_all(
        "header nav a[href]", "(links) => links.map((a) => a.getAttribute('href'))"
    )
    return [h for h in hrefs if h.startswith("/")]


def kind_of(path: str) -> str:
    """Pages of one kind share a path up to their ids: /tablets/t-1 and /tablets/t-2."""
    parts = urlsplit(path).path.strip("/").split("/")
    return "/" + "/".join(
        p if n == 0 or not re.search(r"\d", p) else "*" for n, p in enumerate(parts)
    )


async def linked_pages(page: Page, seen_kinds: set[str]) -> list[str]:
    """One same-site page of each kind not seen yet that this page links to."""
    hrefs: list[str] = await page.eval_on_selector_all(
        "main a[href]", "(links) => links.map((a) => a.getAttribute('href'))"
    )
    found = []
    for href in hrefs:
        path = href.split("#", 1)[0]
        if (
            not path.startswith("/")
            or path.startswith("//")
            or NOT_PAGES.search(urlsplit(path).path)
        ):
            continue
        kind = kind_of(path)
        if kind not in seen_kinds:
            seen_kinds.add(kind)
            found.append(path)
    return found


async def check_page(
    page: Page, base: str, path: str, viewport: str, status: int = 200
) -> list[Finding]:
    """Open ``path`` and report what is wrong with it (``status``: the answer expected)."""
    response = await page.goto(base + path)
    await page.wait_for_load_state("load")
    problems: list[Finding] = []
    if response is None or response.status != status:
        got = None if response is None else response.status
        problems.append(Finding(path, viewport, f"answered {got}, not {status}"))
    if response is not None and "json" in (response.headers.get("content-type") or ""):
        problems.append(Finding(path, viewport, "answered JSON to a browser"))
    text = (await page.inner_text("body")).lower()
    problems += [Finding(path, viewport, f"shows {w!r}") for w in JARGON if w in text]
    if (wide := await overflow(page)) > 0:
        culprit = await widest(page)
        problems.append(Finding(path, viewport, f"{wide} px wider than the screen ({culprit})"))
    for v in await axe_violations(page):
        problems.append(Finding(path, viewport, f"axe {v['id']} ({v['impact']}): {v['nodes']}"))
    return problems
