"""The API's QR code is the stored row, every field, and its addresses (none copied by hand)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

from store.qr_codes import QrRow
from web.leads.api import QrOut


def test_every_field_of_the_row_is_in_the_api_model() -> None:
    row_fields = {f.name for f in fields(QrRow)}
    assert set(QrOut.model_fields) == row_fields | {"url", "png", "svg"}


def test_the_api_model_carries_the_row_and_its_addresses() -> None:
    row = QrRow(
        code="abcdefghjk",
        campaign_id="camp-1",
        fleet_id="f-1",
        car_id=None,
        tablet_id="t-1",
        max_leads=5,
        lead_count=2,
        created_by="admin@example.com",
        created_at=datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
        revoked_at=None,
    )
    out = QrOut.of(row, "https://panel.example/")
    assert out.model_dump(exclude={"url", "png", "svg"}) == {
        f.name: getattr(row, f.name) for f in fields(QrRow)
    }
    assert out.png == "https://panel.example/leads/qr/abcdefghjk.png"
    assert out.url.startswith("https://panel.example/l/abcdefghjk")
