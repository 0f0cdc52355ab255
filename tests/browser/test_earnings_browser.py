"""In Chromium: a fleet owner opens last month's statement, downloads its PDF and CSV, and
the PDF's first page is rendered to PNG with pdftoppm (kept in tests/artifacts/)."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
from datetime import date, timedelta

import pytest
from playwright.async_api import Page, expect

from billing.months import span
from tests.browser.conftest import ARTIFACTS, screenshot, sign_in
from tests.web.billing_helpers import add_card, add_driver, assign, record_plays, record_uptime
from tests.web.conftest import Conn, TenantFactory
from tests.web.conftest import tenant_factory as tenant_factory  # the fixture, for this module
from tests.web.test_earnings import pdf_text

pytestmark = pytest.mark.browser
MARCH = date(2026, 3, 1)


async def test_a_fleet_owner_downloads_the_statement_pdf(
    page: Page, web_url: str, tenant_factory: TenantFactory, conn: Conn
) -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.fail("pdftoppm is not installed: run scripts/bootstrap --with-browser")
    tenant = tenant_factory(fleets=1, tablets=2)
    fleet = tenant.fleets[0]
    conn.execute(
        "UPDATE fleets SET timezone = 'Asia/Singapore', operating_hours = 'mon-sun 07:00-23:00'"
        " WHERE fleet_id = %s",
        (fleet,),
    )
    add_card(
        conn, tenant.tenant_id, date(2026, 1, 1), campaigns={"camp-sg": ("thousand_plays", "3")}
    )
    ann = add_driver(conn, tenant.tenant_id, fleet, "Ann Tan")
    bo = add_driver(conn, tenant.tenant_id, fleet, "Bo Lim")
    assign(conn, tenant.tenant_id, ann, f"{fleet}-car0", MARCH, date(2026, 3, 15))
    assign(conn, tenant.tenant_id, bo, f"{fleet}-car0", date(2026, 3, 16), None)
    lo = span(MARCH, "Asia/Singapore")[0]
    t0, t1 = tenant.tablets[fleet]
    plays = [
        (t, fleet, campaign, lo + timedelta(days=d, hours=9 + n % 10), 15_000, "completed")
        for d in range(31)
        for n, (t, campaign) in enumerate([(t0, "camp-sg"), (t0, "camp-bank"), (t1, "camp-sg")])
    ]
    record_plays(conn, plays)
    record_uptime(conn, [(t, lo + timedelta(days=d, hours=h), 3000.0) for t in (t0, t1)
                         for d in range(31) for h in range(16)])  # fmt: skip

    await sign_in(page, web_url, tenant.owner, "/earnings?month=2026-03")
    await expect(page.locator("#fleet-statements")).to_contain_text("Fleet")
    await page.click(f'#fleet-statements a[href="/earnings/2026-03/fleets/{fleet}"]')
    await expect(page.locator("#statement")).to_contain_text("Ann Tan")
    await expect(page.locator("#statement")).to_contain_text("Bo Lim")
    total = await page.locator("#statement tfoot td").nth(10).inner_text()
    await screenshot(page, "statement-page")

    async with page.expect_download() as pdf_download:
        await page.click("#pdf-link")
    pdf_path = ARTIFACTS / "statement.pdf"
    await (await pdf_download.value).save_as(pdf_path)
    async with page.expect_download() as csv_download:
        await page.click("#csv-link")
    csv_path = ARTIFACTS / "statement.csv"
    await (await csv_download.value).save_as(csv_path)

    rows = list(csv.reader(io.StringIO(csv_path.read_text())))
    assert rows[-1][0] == "Total"
    assert rows[-1][10] == total  # the page's gross total is the CSV's
    shown = pdf_text(pdf_path.read_bytes())
    assert all(cell in shown for cell in rows[-1] if cell)  # and the PDF's
    render = await asyncio.create_subprocess_exec(
        pdftoppm, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf_path),
        str(ARTIFACTS / "statement-pdf"),
    )  # fmt: skip
    assert await asyncio.wait_for(render.wait(), 60) == 0
    png = ARTIFACTS / "statement-pdf.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
