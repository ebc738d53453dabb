"""``ttq serve`` refuses bad settings with one line, before it binds anything."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog
from typer.testing import CliRunner

from ttquant.cli.main import app


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``ttq serve`` configures process-wide logging before it fails: undo that."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--job-slots", "0"], "error: --job-slots must be at least 1, got 0"),
        (["--port", "70000"], "error: --port must be between 0 and 65535, got 70000"),
        (["--log-level", "loud"], "error: --log-level must be debug, info, warning or error"),
        (["--db", "mysql://x/y"], "error: unsupported database 'mysql'"),
    ],
)
def test_bad_settings_are_one_line_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_short_jwt_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTQ_API_JWT_SECRET", "short")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "TTQ_API_JWT_SECRET must be at least 32 characters long" in result.output
