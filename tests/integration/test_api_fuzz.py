"""schemathesis over the published OpenAPI document, against a real server on loopback.

Every operation, with generated valid and invalid input and an admin token, must answer without a
server error and without echoing a secret; every non-public operation must refuse a missing or
forged credential with 401 and a token below its ``x-required-role`` with 403.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from tests.integration._apikit import ApiServer, start_server

from ttquant.api.node import NO_NODE

pytestmark = pytest.mark.fuzz

_LOWER = {"trader": "read_only", "admin": "trader"}
_SAMPLE_PATH_VALUES = {
    "run_id": "abcd",
    "job_id": "0" * 12,
    "token_id": "0" * 12,
    "strategy_id": "s1",
    "client_order_id": "o1",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp("fuzz_home")
    running = start_server(home, "--data-root", str(home), "--job-slots", "1")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def spec(server: ApiServer) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{server.base}/api/v1/openapi.json", timeout=10).json()
    return document


@pytest.mark.parametrize("method_path", ["GET", "POST", "PATCH", "DELETE"])
def test_no_server_errors_and_no_secrets(
    method_path: str, server: ApiServer, spec: dict[str, Any]
) -> None:
    """Generated requests for every operation of one HTTP method, with an admin token."""
    schema = schemathesis.openapi.from_dict(spec)
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != method_path:
            continue
        tested += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(base_url=server.base, headers=headers)
            where = f"{case.method} {case.formatted_path}"
            tags = operation.tags  # noqa: B023 - the check runs in this iteration
            if response.status_code == 503 and "node" in tags:
                assert response.json() == {"detail": NO_NODE}  # documented: no node attached
                return
            if response.status_code == 503 and "system" in tags:
                assert not response.json()["ok"]  # documented: a check failed (a busy machine)
                return
            assert response.status_code < 500, f"{where}: {response.text}"
            assert server.admin_token not in response.text

        check()
    assert tested > 0


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            role = operation.get("x-required-role")
            if role is not None:
                values = {
                    name: _path_value(operation, name) for name in re.findall(r"\{(\w+)\}", path)
                }
                url = path.format(**values)
                found.append((method.upper(), url, role))
    return found


def _path_value(operation: dict[str, Any], name: str) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["name"] == name and "enum" in parameter["schema"]:
            return str(parameter["schema"]["enum"][0])
    return _SAMPLE_PATH_VALUES[name]


def test_every_protected_operation_checks_token_and_role(
    server: ApiServer, spec: dict[str, Any]
) -> None:
    operations = _operations(spec)
    assert len(operations) >= 25
    tokens = {role: server.create_token(role, name=f"fuzz {role}") for role in _LOWER.values()}
    forged = "ttq_" + "z" * 43
    with httpx.Client(base_url=server.base, timeout=30) as c:
        for method, url, role in operations:
            for headers in (
                {},
                {"Authorization": f"Bearer {forged}"},
                {"Authorization": "Basic x"},
            ):
                answer = c.request(method, url, headers=headers)
                assert answer.status_code == 401, f"{method} {url} {headers}: {answer.status_code}"
            if role in _LOWER:
                low = {"Authorization": f"Bearer {tokens[_LOWER[role]]}"}
                answer = c.request(method, url, headers=low, json={})
                assert answer.status_code == 403, f"{method} {url} as {_LOWER[role]}"
    log = server.log.read_text()
    for secret in (server.admin_token, *tokens.values()):
        assert secret not in log
