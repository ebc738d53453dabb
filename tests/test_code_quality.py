"""The standards every change keeps: ruff (lint and format) and mypy --strict run clean."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

PATHS = ["src", "tests", "benchmarks"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_ruff_lint_is_clean() -> None:
    proc = _run("ruff", "check", *PATHS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_is_clean() -> None:
    proc = _run("ruff", "format", "--check", *PATHS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_is_clean() -> None:
    proc = _run("mypy", "src/ttquant")
    assert proc.returncode == 0, proc.stdout + proc.stderr
