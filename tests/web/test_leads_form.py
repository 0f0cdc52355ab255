"""The public lead form /l/{code}: checks, token, idempotency, dedupe, cap, limits, NOTIFY."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

import web.leads.form_token
from config.settings import Settings
from store.db import open_pool
from store.lead_intake import CodeUnavailable
from tests.web.conftest import Conn, TenantFactory, rate_limits_away
from tests.web.lead_helpers import form_token, make_campaign, make_code
from web.app import create_app
from web.leads import intake
from web.leads.form import LeadInput
from web.leads.form_limits import LeadLimits

THANKS = "We have your details"


@pytest.fixture
def listener(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("LISTEN fleethub_leads")
        yield conn


def notified(conn: psycopg.Connection[tuple[object, ...]], timeout: float = 2.0) -> list[str]:
    """The lead ids announced on fleethub_leads (waits ``timeout`` for stragglers)."""
    return [n.payload for n in conn.notifies(timeout=timeout)]


def post(
    client: TestClient,
    code: str,
    token: str,
    name: str = "Tan Mei Ling",
    phone: str = "9123 4567",
    consent: bool = True,
) -> tuple[int, str]:
    data = {"token": token, "name": name, "phone": phone}
    if consent:
        data["consent"] = "yes"
    response = client.post(f"/l/{code}", data=data, headers={"accept": "text/html"})
    return response.status_code, response.text


def stored(conn: Conn, code: str) -> list[dict[str, object]]:
    cur = conn.execute(
        "SELECT lead_id, campaign_id, fleet_id, car_id, tablet_id, driver_id, name, phone, status,"
        " duplicate_of, client_ip_hash FROM leads WHERE code = %s ORDER BY submitted_at",
        (code,),
    )
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_valid_submit_stores_one_attributed_lead_and_notifies(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    listener: psycopg.Connection[tuple[object, ...]],
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    fleet, tablet = tenant.fleets[0], tenant.all_tablets[0]
    conn.execute(
        "INSERT INTO heartbeats (time, tablet_id, seq, boot_id, extra) VALUES"
        " (now() - interval '5 minutes', %s, 1, 'b', '{\"driver_id\": \"drv-old\"}'),"
        " (now() - interval '1 minute', %s, 2, 'b', '{\"driver_id\": \"drv-7\"}')",
        (tablet, tablet),
    )
    campaign = make_campaign(conn, tenant.tenant_id, "Car insurance")
    code = make_code(conn, tenant.tenant_id, campaign, tablet_id=tablet)
    page = panel.get(f"/l/{code}")
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "Car insurance" in page.text
    assert 'autocomplete="name"' in page.text
    assert 'autocomplete="tel"' in page.text
    assert 'inputmode="tel"' in page.text
    assert '<label for="phone">' in page.text
    assert page.headers["cache-control"] == "no-store"
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token
    notified(listener, 0.2)  # drain anything older

    status, body = post(panel, code, token.group(1), name="  Tan   Mei Ling ", phone="9123 4567")

    assert status == 200
    assert THANKS in body
    [lead] = stored(conn, code)
    assert lead["phone"] == "+6591234567"
    assert lead["name"] == "Tan Mei Ling"
    assert lead["status"] == "new"
    assert lead["duplicate_of"] is None
    assert (lead["campaign_id"], lead["fleet_id"], lead["tablet_id"]) == (campaign, fleet, tablet)
    assert lead["car_id"] == f"{fleet}-car0"
    assert lead["driver_id"] == "drv-7"
    assert isinstance(lead["client_ip_hash"], str)
    assert "testclient" not in lead["client_ip_hash"]
    assert notified(listener) == [str(lead["lead_id"])]
    count = conn.execute("SELECT lead_count FROM qr_codes WHERE code = %s", (code,)).fetchone()
    assert count == (1,)
    events = conn.execute(
        "SELECT actor, event, details->>'status' FROM lead_events WHERE lead_id = %s",
        (lead["lead_id"],),
    ).fetchall()
    assert events == [("public", "submitted", "new")]


def test_car_comes_from_the_tablets_current_car_and_no_driver_without_a_heartbeat(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    fleet, tablet = tenant.fleets[0], tenant.all_tablets[0]
    conn.execute("INSERT INTO cars (car_id, fleet_id) VALUES (%s, %s)", (f"{fleet}-new", fleet))
    conn.execute("UPDATE tablets SET car_id = %s WHERE tablet_id = %s", (f"{fleet}-new", tablet))
    code = make_code(
        conn, tenant.tenant_id, make_campaign(conn, tenant.tenant_id), tablet_id=tablet
    )
    assert post(panel, code, form_token(panel, code))[0] == 200
    [lead] = stored(conn, code)
    assert (lead["car_id"], lead["driver_id"]) == (f"{fleet}-new", None)


def test_double_post_of_one_form_makes_one_lead(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    listener: psycopg.Connection[tuple[object, ...]],
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    code = make_code(conn, tenant.tenant_id, make_campaign(conn, tenant.tenant_id))
    token = form_token(panel, code)
    notified(listener, 0.2)
    first, second = post(panel, code, token), post(panel, code, token)
    assert first == second
    assert first[0] == 200
    assert THANKS in first[1]
    [lead] = stored(conn, code)
    assert notified(listener) == [str(lead["lead_id"])]
    assert conn.execute("SELECT lead_count FROM qr_codes WHERE code = %s", (code,)).fetchone() == (
        1,
    )


@pytest.mark.parametrize(
    "phone",
    [
        "12345678",
        "7123 4567",
        "+1 415 555 2671",
        "9123 456",
        "6512345678",
        "+65 9123 45678",
        "800 123 4567",
        "91234567x",
        "+44 20 7946 0958",
        "",
        "9123\x004567",
    ],
)
def test_invalid_phones_are_rejected_and_nothing_is_stored(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, phone: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    code = make_code(conn, tenant.tenant_id, make_campaign(conn, tenant.tenant_id))
    status, body = post(panel, code, form_token(panel, code), phone=phone)
    assert status == 422
    message = "Enter your phone number." if not phone else "Enter a Singapore phone number"
    assert message in body
    assert 'id="phone-error"' in body
    assert 'aria-describedby="phone-hint phone-error"' in body
    assert 'aria-invalid="true"' in body
    assert 'value="Tan Mei Ling"' in body  # what was typed is kept
    assert stored(conn, code) == []


@pytest.mark.parametrize(
    ("phone", "e164"),
    [
        ("+65 9123 4567", "+6591234567"),
        ("8123-4567", "+6581234567"),
        ("6591234567", "+6591234567"),
        ("65 6123 4567", "+6561234567"),
        ("65123456", "+6565123456"),
        ("3123 4567", "+6531234567"),
        ("+6598765432", "+6598765432"),
    ],
)
def test_valid_phones_are_stored_in_e164(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, phone: str, e164: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    code = make_code(conn, tenant.tenant_id, make_campaign(conn, tenant.tenant_id))
    status, body = post(panel, code, form_token(panel, code), phone=phone)
    assert status == 200, body
    assert [lead["phone"] for lead in stored(conn, code)] == [e164]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("consent", False, "Tick the box to agree to be contacted."),
        ("name", "   ", "Enter your name."),
        ("name", "x" * 81, "Your name can have at most 80 characters."),
        ("name", "Tan\x07Mei", "Your name contains characters that cannot be used."),
    ],
)
def test_missing_consent_or_bad_name_is_rejected(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    field: str,
    value: object,
    message: str,
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    code = make_code(conn, tenant.tenant_id, make_campaign(conn, tenant.tenant_id))
    token = form_token(panel, code)
    if field == "consent":
        status, body = post(panel, code, token, consent=False)
    else:
        status, body = post(panel, code, token, name=str(value))
    assert status == 422
    assert message in body
    assert f'aria-describedby="{field}-error"' in body
    assert stored(conn, code) == []
    # The same form, fixed, goes through.
    assert post(panel, code, token)[0] == 200
    assert len(stored(conn, code)) == 1


def test_bad_or_expired_or_foreign_tokens_store_nothing(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    campaign = make_campaign(conn, tenant.tenant_id)
    code, other = (
        make_code(conn, tenant.tenant_id, campaign),
        make_code(conn, tenant.tenant_id, campaign),
    )
    secret: str = panel.app.state.secret_key  # type: ignore[attr-defined]
    good = form_token(panel, code)
    expired = web.leads.form_token.issue(secret, code, lifetime=timedelta(seconds=-5))
    wrong_key = web.leads.form_token.issue("another secret key of another panel", code)
    for token in ["", "garbage", good[:-3] + "abc", expired, wrong_key, form_token(panel, other)]:
        status, body = post(panel, code, token)
        assert status == 400, token
        assert "This form has expired" in body
        assert f'href="/l/{code}"' in body
    assert stored(conn, code) == []
    assert stored(conn, other) == []


def test_code_at_its_cap_answers_410_and_a_revoked_or_unknown_code_404(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    campaign = make_campaign(conn, tenant.tenant_id)
    code = make_code(conn, tenant.tenant_id, campaign, max_leads=1)
    early = form_token(panel, code)
    assert post(panel, code, form_token(panel, code), phone="9111 1111")[0] == 200
    page = panel.get(f"/l/{code}")
    assert page.status_code == 410
    assert "reached its limit" in page.text
    status, body = post(panel, code, early, phone="9222 2222")
    assert status == 410
    assert "reached its limit" in body
    assert len(stored(conn, code)) == 1

    revoked = make_code(conn, tenant.tenant_id, campaign)
    token = form_token(panel, revoked)
    conn.execute("UPDATE qr_codes SET revoked_at = now() WHERE code = %s", (revoked,))
    assert panel.get(f"/l/{revoked}").status_code == 404
    assert post(panel, revoked, token)[0] == 404
    assert panel.get("/l/zzzzzzzzzz").status_code == 404
    assert panel.get("/l/not-a-code!").status_code == 404
    assert stored(conn, revoked) == []


def test_duplicate_phone_within_the_window_is_stored_as_duplicate_without_notify(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    listener: psycopg.Connection[tuple[object, ...]],
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    campaign, other_campaign = (
        make_campaign(conn, tenant.tenant_id),
        make_campaign(conn, tenant.tenant_id),
    )
    code = make_code(conn, tenant.tenant_id, campaign, max_leads=5)
    notified(listener, 0.2)
    assert post(panel, code, form_token(panel, code), phone="9123 4567")[0] == 200
    [first] = notified(listener)
    status, body = post(panel, code, form_token(panel, code), phone="+65 9123-4567")
    assert status == 200
    assert THANKS in body
    assert notified(listener) == []
    rows = stored(conn, code)
    assert [(r["status"], r["duplicate_of"]) for r in rows] == [
        ("new", None),
        ("duplicate", uuid.UUID(first)),
    ]
    assert conn.execute("SELECT lead_count FROM qr_codes WHERE code = %s", (code,)).fetchone() == (
        1,
    )  # a duplicate takes nothing from the cap
    # Another campaign is another lead.
    other = make_code(conn, tenant.tenant_id, other_campaign)
    assert post(panel, other, form_token(panel, other), phone="91234567")[0] == 200
    assert [r["status"] for r in stored(conn, other)] == ["new"]
    assert len(notified(listener)) == 1


def test_outside_the_dedupe_window_the_same_phone_is_a_new_lead(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    campaign = make_campaign(conn, tenant.tenant_id, dedupe=timedelta(hours=1))
    code = make_code(conn, tenant.tenant_id, campaign)
    assert post(panel, code, form_token(panel, code))[0] == 200
    conn.execute(
        "UPDATE leads SET submitted_at = now() - interval '2 hours' WHERE code = %s", (code,)
    )
    assert post(panel, code, form_token(panel, code))[0] == 200
    assert [r["status"] for r in stored(conn, code)] == ["new", "new"]


def test_rate_limits_per_client_and_per_code_answer_429_with_retry_after(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    campaign = make_campaign(conn, tenant.tenant_id)
    code, second = (
        make_code(conn, tenant.tenant_id, campaign),
        make_code(conn, tenant.tenant_id, campaign),
    )
    state = panel.app.state  # type: ignore[attr-defined]
    state.lead_limits = LeadLimits(per_client=3, per_code=100, window_s=600)
    for n in range(3):
        assert post(panel, code, form_token(panel, code), phone=f"9000 000{n}")[0] == 200
    response = panel.post(
        f"/l/{code}",
        data={
            "token": form_token(panel, code),
            "name": "A",
            "phone": "9000 0009",
            "consent": "yes",
        },
    )
    assert response.status_code == 429
    assert "Too many submissions" in response.text
    assert 0 < int(response.headers["retry-after"]) <= 600
    assert len(stored(conn, code)) == 3

    state.lead_limits = LeadLimits(per_client=100, per_code=2, window_s=600)
    for n in range(2):
        assert post(panel, code, form_token(panel, code), phone=f"9100 000{n}")[0] == 200
    assert post(panel, code, form_token(panel, code), phone="9100 0009")[0] == 429
    assert post(panel, second, form_token(panel, second), phone="9100 0009")[0] == 200
    assert len(stored(conn, code)) == 5


def test_two_panel_processes_share_the_form_limits(
    panel: TestClient,
    panel_settings: Settings,
    database_url: str,
    tenant_factory: TenantFactory,
    conn: Conn,
) -> None:
    """Two apps on one store (two workers or containers) count into one budget."""
    tenant = tenant_factory(fleets=1, tablets=1)
    code = make_code(conn, tenant.tenant_id, make_campaign(conn, tenant.tenant_id))
    settings = panel_settings.model_copy(update={"lead_submits_per_client": 3})
    with (
        TestClient(create_app(settings, database_url)) as first,
        TestClient(create_app(settings, database_url)) as second,
    ):
        workers = [first, second]
        codes = [
            post(workers[n % 2], code, form_token(workers[n % 2], code), phone=f"9200 000{n}")[0]
            for n in range(3)
        ]
        assert codes == [200] * 3
        assert post(first, code, form_token(first, code), phone="9200 0009")[0] == 429
        assert post(second, code, form_token(second, code), phone="9200 0009")[0] == 429
    assert len(stored(conn, code)) == 3


def test_the_form_refuses_what_it_cannot_count(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    """Fail closed: while the limits cannot be counted the form answers 503 + Retry-After."""
    tenant = tenant_factory(fleets=1, tablets=1)
    code = make_code(conn, tenant.tenant_id, make_campaign(conn, tenant.tenant_id))
    token = form_token(panel, code)
    with rate_limits_away(panel):
        status, text = post(panel, code, token)
        response = panel.post(f"/l/{code}", data={"token": token}, headers={"accept": "x/y"})
    assert status == 503
    assert "try again" in text.lower()
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert stored(conn, code) == []


async def test_the_cap_holds_under_concurrent_submissions(
    database_url: str, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    code = make_code(conn, tenant.tenant_id, make_campaign(conn, tenant.tenant_id), max_leads=3)
    pool = open_pool(database_url, max_size=10)
    await pool.open(wait=True, timeout=30)
    try:
        found = await intake.find_code(pool, code)
        assert found is not None

        async def one(n: int) -> str:
            try:
                done = await intake.submit(
                    pool,
                    found,
                    LeadInput("P", f"+659000{n:04}"),
                    f"concurrent-{n:04}-{uuid.uuid4().hex}",
                    "h",
                )
            except CodeUnavailable as exc:
                return str(exc.status)
            return done.outcome

        outcomes = await asyncio.gather(*(one(n) for n in range(12)))
    finally:
        await pool.close()
    assert sorted(outcomes) == ["410"] * 9 + ["new"] * 3
    assert conn.execute(
        "SELECT lead_count, (SELECT count(*) FROM leads WHERE code = %s)"
        " FROM qr_codes WHERE code = %s",
        (code, code),
    ).fetchone() == (3, 3)


def test_an_oversized_form_is_refused_and_nothing_is_stored(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    code = make_code(conn, tenant.tenant_id, make_campaign(conn, tenant.tenant_id))
    status, body = post(panel, code, form_token(panel, code), name="x" * 9000)
    assert status == 413
    assert "too large" in body
    assert stored(conn, code) == []
