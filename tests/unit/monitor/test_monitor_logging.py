"""JSON log lines with correlation ids, secrets redacted, the in-memory buffer."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator

import pytest
import structlog

from ttquant.monitor.logging import (
    REDACTED,
    LogBuffer,
    bind_correlation_id,
    clear_correlation_id,
    configure_logging,
    get_logger,
)


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, LogBuffer]]:
    stream, buffer = io.StringIO(), LogBuffer(capacity=50)
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    configure_logging("DEBUG", stream=stream, buffer=buffer)
    try:
        yield stream, buffer
    finally:
        root.handlers[:], root.level = before
        structlog.reset_defaults()
        clear_correlation_id()


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_structlog_and_stdlib_lines_are_json_with_correlation_id(
    captured: tuple[io.StringIO, LogBuffer],
) -> None:
    stream, _ = captured
    cid = bind_correlation_id("req-42")
    get_logger("ttquant.test").info("order sent", strategy="sma", qty=0.5)
    logging.getLogger("ttquant.plain").warning("venue slow: %d ms", 250)
    clear_correlation_id()
    get_logger("ttquant.test").info("after")
    first, second, third = _lines(stream)
    assert cid == "req-42"
    assert first["event"] == "order sent" and first["qty"] == 0.5
    assert first["correlation_id"] == "req-42" and first["level"] == "info"
    assert first["logger"] == "ttquant.test" and str(first["timestamp"]).endswith("Z")
    assert second["event"] == "venue slow: 250 ms" and second["level"] == "warning"
    assert second["correlation_id"] == "req-42"
    assert "correlation_id" not in third


def test_secrets_never_reach_the_output(captured: tuple[io.StringIO, LogBuffer]) -> None:
    stream, buffer = captured
    token = "ttq_" + secrets.token_urlsafe(32)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhYmMxMjMifQ.c2lnbmF0dXJlc2lnbmF0dXJl"
    log = get_logger("ttquant.test")
    log.info("login", token="plain-secret-value", headers={"Authorization": "Bearer xyz123"})
    log.info(f"someone sent {token} and {jwt}")
    try:
        raise ValueError(f"bad credential {token}")
    except ValueError:
        log.exception("failed")
    logging.getLogger("ttquant.plain").error("stdlib too: %s", token)
    text = stream.getvalue()
    for secret in (token, jwt, "plain-secret-value", "xyz123"):
        assert secret not in text
        assert all(secret not in json.dumps(r) for r in buffer.records())
    assert text.count(REDACTED) >= 6


def test_registered_values_are_redacted(captured: tuple[io.StringIO, LogBuffer]) -> None:
    stream, _ = captured
    from ttquant.monitor.logging import Redactor

    redactor = Redactor()
    configure_logging("INFO", stream=stream, redactor=redactor)
    redactor.add("hunter2-the-db-password")
    get_logger("x").info("connecting to postgresql://u:hunter2-the-db-password@db/x")
    assert "hunter2" not in stream.getvalue()


def test_buffer_numbers_filters_and_bounds_records(
    captured: tuple[io.StringIO, LogBuffer],
) -> None:
    _, buffer = captured
    seen: list[dict[str, object]] = []
    buffer.subscribe(seen.append)
    log = get_logger("ttquant.test")
    for i in range(60):
        (log.warning if i % 10 == 0 else log.info)("line", i=i)
    records = buffer.records(limit=1000)
    assert len(records) == 50  # capacity
    assert [r["seq"] for r in records] == list(range(11, 61))
    warnings = buffer.records(level="warning", limit=1000)
    assert [r["i"] for r in warnings] == [10, 20, 30, 40, 50]
    assert [r["seq"] for r in buffer.records(after=58)] == [59, 60]
    assert buffer.records(limit=3)[-1]["seq"] == 60
    assert len(seen) == 60
