"""The panel's /metrics: requests by route template and status, parsed as Prometheus reads it."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from config.settings import Settings
from tests.scrape import Samples, parse
from tests.web.conftest import TenantFactory, api_token
from web.app import create_app


def requests(samples: Samples, **labels: str) -> float | None:
    return samples.get(("fleethub_http_requests_total", frozenset(labels.items())))


def test_requests_are_counted_by_route_template_and_status(
    panel: TestClient, tenant_factory: TenantFactory
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    tablet_id = tenant.all_tablets[0]
    headers = api_token(panel, tenant.admin)
    assert panel.get(f"/api/v1/tablets/{tablet_id}", headers=headers).status_code == 200
    assert panel.get("/api/v1/tablets/no-such-tablet", headers=headers).status_code == 404
    assert panel.get("/api/v1/tablets/x-unauthenticated").status_code == 401
    assert panel.get("/no/such/page/abc123").status_code == 404
    assert panel.put("/api/v1/tablets/x", headers=headers).status_code == 405

    response = panel.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = parse(response.text)
    route = "/api/v1/tablets/{tablet_id}"
    assert requests(samples, method="GET", route=route, status="200") == 1
    assert requests(samples, method="GET", route=route, status="404") == 1
    assert requests(samples, method="GET", route=route, status="401") == 1
    assert requests(samples, method="PUT", route=route, status="405") == 1
    assert requests(samples, method="POST", route="/api/v1/auth/token", status="200") == 1
    assert requests(samples, method="GET", route="(unmatched)", status="404") == 1
    duration = (
        "fleethub_http_request_duration_seconds_count",
        frozenset({"method": "GET", "route": route}.items()),
    )
    assert samples[duration] == 3
    # Bounded: no raw path or id reaches a label.
    labels = {v for _, ls in samples for _, v in ls}
    assert not any(tablet_id in v or "no-such" in v or "abc123" in v for v in labels)
    # The live feeds of the running panel (no subscriber yet).
    for feed in ("tiles", "leads"):
        key = ("fleethub_panel_feed_subscribers", frozenset({"feed": feed}.items()))
        assert samples[key] == 0


def test_a_token_guards_the_metrics(tmp_path: Path, database_url: str) -> None:
    settings = Settings(var_dir=tmp_path, metrics_token=SecretStr("t" * 40))
    client = TestClient(create_app(settings, database_url))  # no lifespan: no store needed
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 40})
    assert ok.status_code == 200
    assert requests(parse(ok.text), method="GET", route="/metrics", status="401") == 2
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_production_without_token_hides_metrics(tmp_path: Path, database_url: str) -> None:
    settings = Settings(var_dir=tmp_path, environment="production", secret_key=SecretStr("s" * 40))
    client = TestClient(create_app(settings, database_url))
    assert client.get("/metrics").status_code == 404
