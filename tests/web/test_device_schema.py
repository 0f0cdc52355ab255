"""Property-based checks of the device API against its own OpenAPI schema (schemathesis).

Schemathesis generates requests (fitting the schema, then not fitting it) for every
``/v1/device/`` operation of the app's ``/openapi.json``; each is sent with a live device
token through the ``panel`` test client (its lifespan owns the pool: schemathesis's own
ASGI transport would start a second one on another event loop), and no answer may be a
server error. Hypothesis is derandomized and bounded, so a run is repeatable and short.
Every other operation (and NUL in every input) is swept in tests/faults/test_api_schema.py.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from store import device_tokens
from tests.helpers import store
from tests.web.conftest import Conn, TenantFactory

MAX_EXAMPLES = 30


@pytest.fixture
def device_headers(conn: Conn, tenant_factory: TenantFactory) -> dict[str, str]:
    tablet_id = tenant_factory(fleets=1, tablets=1).all_tablets[0]
    token = store(conn, lambda aconn: device_tokens.issue(aconn, tablet_id, "test"))
    return {"Authorization": f"Bearer {token}"}


def send(client: TestClient, kwargs: dict[str, Any]) -> Any:
    """A request serialized for ``requests`` sent through the (httpx) test client."""
    return client.request(
        kwargs["method"],
        kwargs["url"],
        content=kwargs.get("data"),
        json=kwargs.get("json"),
        params=kwargs.get("params"),
        headers=kwargs.get("headers"),
    )


# The plan has no body and one optional header: nothing to make invalid in negative mode.
CASES = [
    ("POST", "/v1/device/events", GenerationMode.POSITIVE),
    ("POST", "/v1/device/events", GenerationMode.NEGATIVE),
    ("GET", "/v1/device/plan", GenerationMode.POSITIVE),
    ("POST", "/v1/device/heartbeat", GenerationMode.POSITIVE),
    ("POST", "/v1/device/heartbeat", GenerationMode.NEGATIVE),
    ("POST", "/v1/device/pairing/claim", GenerationMode.POSITIVE),
    ("POST", "/v1/device/pairing/claim", GenerationMode.NEGATIVE),
    ("PUT", "/v1/device/screenshots/{command_id}", GenerationMode.POSITIVE),
    ("PUT", "/v1/device/screenshots/{command_id}", GenerationMode.NEGATIVE),
]
# Answers that show a generated request reached the operation and was judged.
JUDGED = {
    "/v1/device/events": {200},
    "/v1/device/plan": {200, 304},
    "/v1/device/heartbeat": {202},
    "/v1/device/pairing/claim": {404, 429},
    "/v1/device/screenshots/{command_id}": {403},  # generated links are never genuine
}


def test_the_schema_has_exactly_the_device_operations(panel: TestClient) -> None:
    schema = schemathesis.openapi.from_dict(panel.get("/openapi.json").json())
    device_api = schema.include(path_regex="^/v1/device/")
    found: set[tuple[str, str]] = set()
    for result in device_api.get_all_operations():
        assert isinstance(result, Ok), result
        found.add((result.ok().method.upper(), result.ok().path))
    assert found == {(method, path) for method, path, _ in CASES}


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_the_device_api_never_answers_with_a_server_error(
    panel: TestClient,
    device_headers: dict[str, str],
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    schema = schemathesis.openapi.from_dict(panel.get("/openapi.json").json())
    operation = schema[path][method]
    statuses: set[int] = set()

    @given(case=operation.as_strategy(mode, headers=device_headers))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    def check(case: schemathesis.Case[Any]) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=device_headers)
        response = send(panel, kwargs)
        statuses.add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    check()
    assert 401 not in statuses  # the token went with every request
    assert statuses & JUDGED[path] or mode is GenerationMode.NEGATIVE, statuses
