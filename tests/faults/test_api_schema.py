"""No input makes the panel answer with a server error: every operation, every identity.

The operations are read from the app's own ``/openapi.json`` (a new one is covered without
touching this file) and each is driven by schemathesis, fitting the schema and not, as the
identity its security scheme names: a device token for ``DeviceToken``, an agent's bearer
for the agent API, an admin's bearer for the rest of ``HTTPBearer`` (and the agent's too,
which must be refused, not crash). Then every operation once more with a NUL character in
each of its strings (what PostgreSQL's text cannot hold), and every HTML form route (kept
out of the schema) with NUL in each of its fields: all must be a 4xx.
Hypothesis is derandomized and bounded, so a run is repeatable and short.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from starlette.routing import BaseRoute

from store import device_tokens
from tests.helpers import store
from tests.web import conftest
from tests.web.agent_helpers import make_agent
from tests.web.conftest import Conn, TenantFactory, api_token, sign_in

# The panel's fixtures of tests/web, for this module.
panel, panel_settings, tenant_factory = (
    conftest.panel,
    conftest.panel_settings,
    conftest.tenant_factory,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]
MAX_EXAMPLES = 5
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def identities(panel: TestClient, conn: Conn, tenant_factory: TenantFactory) -> dict[str, Any]:
    tenant = tenant_factory(fleets=1, tablets=2)
    agent = make_agent(conn, tenant)
    token = store(conn, lambda aconn: device_tokens.issue(aconn, tenant.all_tablets[0], "test"))
    return {
        "admin": api_token(panel, tenant.admin),
        # Signing out ends the token it is sent with: that operation gets a token of its own.
        "signing_out": api_token(panel, tenant.admin),
        "agent": api_token(panel, agent.email),
        "device": {"Authorization": f"Bearer {token}"},
        "none": {},
        "tenant": tenant,
    }


def _schema(panel: TestClient) -> Any:
    return schemathesis.openapi.from_dict(panel.get("/openapi.json").json())


def _who(operation: Any) -> list[str]:
    """The identities an operation is sent as, from its security scheme and path."""
    schemes = {name for item in operation.definition.raw.get("security", []) for name in item}
    if operation.path == "/api/v1/auth/logout":
        return ["signing_out"]
    if "DeviceToken" in schemes:
        return ["device"]
    if "HTTPBearer" in schemes:
        return ["agent"] if operation.path.startswith("/api/v1/agent/") else ["admin", "agent"]
    return ["none"]


def _operations(panel: TestClient) -> list[Any]:
    return [result.ok() for result in _schema(panel).get_all_operations()]


def send(client: TestClient, kwargs: dict[str, Any]) -> Any:
    """A request serialized for ``requests`` sent through the (httpx) test client."""
    data = kwargs.get("data")
    body = {"data": data} if isinstance(data, dict) else {"content": data}
    return client.request(
        kwargs["method"],
        kwargs["url"],
        json=kwargs.get("json"),
        params=kwargs.get("params"),
        headers=kwargs.get("headers"),
        follow_redirects=False,
        **body,
    )


def test_no_operation_answers_with_a_server_error(
    panel: TestClient, identities: dict[str, Any]
) -> None:
    operations = _operations(panel)
    assert len(operations) >= 45
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        seen = statuses.setdefault(f"{operation.method.upper()} {operation.path}", set())
        for who in _who(operation):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _drive(panel, operation, mode, identities[who], seen)
    assert all(statuses.values())
    # The admin's bearer got through: some fleet operation answered 200.
    assert 200 in statuses["GET /api/v1/tablets"]


def _drive(
    panel: TestClient,
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    seen: set[int],
) -> None:
    @given(case=operation.as_strategy(mode, headers=headers or None))
    @HYPOTHESIS
    def check(case: schemathesis.Case[Any]) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        response = send(panel, kwargs)
        seen.add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    try:
        check()
    except Unsatisfiable:  # nothing in the operation to make invalid (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE, operation.path


def _with_nul(node: Any) -> Any:
    if isinstance(node, str):
        return node + "\x00"
    if isinstance(node, dict):
        return {k: _with_nul(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_nul(v) for v in node]
    return node


def _query_with_nul(query: dict[str, Any]) -> dict[str, Any]:
    """Every query value as the text it travels as, NUL appended (a number or a flag too: a
    case of only numbers would otherwise carry no NUL at all)."""
    return {
        k: [f"{x}\x00" for x in v] if isinstance(v, list) else f"{v}\x00" for k, v in query.items()
    }


def _drive_with_nul(
    panel: TestClient, operation: Any, headers: dict[str, str], answers: list[str]
) -> None:
    @given(case=operation.as_strategy(GenerationMode.POSITIVE, headers=headers or None))
    @settings(
        max_examples=3,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case[Any]) -> None:
        case.query = _query_with_nul(case.query) if case.query else {"q": "\x00"}
        if case.path_parameters:  # the URL carries it percent-encoded
            case.path_parameters = {k: f"{v}%00" for k, v in case.path_parameters.items()}
        if isinstance(case.body, (dict, list, str)):
            case.body = _with_nul(case.body)
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        response = send(panel, kwargs)
        label = f"{operation.method.upper()} {operation.path} → {response.status_code}"
        assert response.status_code < 500, label
        answers.append(label)

    check()


def test_a_nul_character_anywhere_is_refused_with_a_4xx(
    panel: TestClient, identities: dict[str, Any]
) -> None:
    """GET /api/v1/tablets?q=%00, GET /api/v1/leads?campaign=%00 and a campaign named with
    \\u0000 were 500s (a store error); now every operation refuses NUL as bad input."""
    refused: list[str] = []
    for operation in _operations(panel):
        _drive_with_nul(panel, operation, identities[_who(operation)[0]], refused)
    for named in ("GET /api/v1/tablets", "GET /api/v1/leads", "POST /api/v1/leads/campaigns"):
        answers = {int(label.rsplit(" ", 1)[1]) for label in refused if label.startswith(named)}
        assert answers == {422}, (named, answers)


def _html_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            if not route.include_in_schema:
                yield route
        elif (inner := getattr(route, "original_router", None)) is not None:
            yield from _html_routes(inner.routes)


def test_html_form_routes_refuse_nul_in_any_field(
    panel: TestClient, identities: dict[str, Any]
) -> None:
    """The routes outside the schema (the panel's pages and forms), signed in as the admin,
    with NUL in each form field (and in a query parameter): a 4xx, never a 5xx."""
    tenant = identities["tenant"]
    csrf = sign_in(panel, tenant.admin)
    checked = 0
    for route in _html_routes(panel.app.routes):  # type: ignore[attr-defined]
        path = re.sub(r"\{[^}]+\}", "x", route.path_format)
        for method in sorted(route.methods or ()):
            if path == "/logout":
                continue  # it would end the session the other routes are sent with
            if method == "GET":
                if "stream" in path:
                    continue  # an event stream does not end
                response = panel.get(
                    path, params={"q": "\x00", "next": "\x00"}, follow_redirects=False
                )
            else:
                fields = {p.alias: "\x00" for p in route.dependant.body_params}
                response = panel.request(
                    method,
                    path,
                    data={**fields, "csrf_token": csrf},
                    headers={"X-CSRF-Token": csrf},
                    follow_redirects=False,
                )
            assert response.status_code < 500, (method, path, response.status_code)
            if method != "GET" and route.dependant.body_params:
                assert 400 <= response.status_code < 500, (method, path, response.status_code)
            checked += 1
    assert checked > 40


def test_a_lone_surrogate_in_json_is_refused_and_a_pair_is_not(
    panel: TestClient, identities: dict[str, Any]
) -> None:
    """JSON's \\ud800 escape decodes to text with no UTF-8 form; an escaped pair is an emoji."""
    headers = {**identities["admin"], "Content-Type": "application/json"}
    lone = panel.post(
        "/api/v1/leads/campaigns",
        headers=headers,
        content=b'{"campaign_id": "c-x", "name": "a\\ud800b"}',
    )
    assert lone.status_code == 422, lone.text
    assert "lone surrogate" in lone.json()["detail"]
    pair = panel.post(
        "/api/v1/leads/campaigns",
        headers=headers,
        content=b'{"campaign_id": "c-x", "name": "a\\ud83d\\ude97b"}',
    )
    assert pair.status_code != 422 or "surrogate" not in pair.text, pair.text
