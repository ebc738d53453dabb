"""promtool validates the shipped Prometheus config and alert rules and runs their unit tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests._tools import require_tool
from tests.conftest import REPO

PROMETHEUS_DIR = REPO / "deploy" / "prometheus"

pytestmark = pytest.mark.prometheus


def _promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    promtool = require_tool("promtool", "prometheus")
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_alert_rules_are_valid() -> None:
    proc = _promtool("check", "rules", "alerts.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 9 rules found" in proc.stdout


def test_scrape_config_is_valid() -> None:
    proc = _promtool("check", "config", "prometheus.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_alert_rule_unit_tests_pass() -> None:
    proc = _promtool("test", "rules", "alerts_test.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_rule_tests_catch_a_changed_threshold(tmp_path: Path) -> None:
    """The unit tests can fail: with the drawdown limit raised, its test must break."""
    shutil.copy(PROMETHEUS_DIR / "alerts_test.yml", tmp_path)
    rules = (PROMETHEUS_DIR / "alerts.yml").read_text()
    assert "ttq_drawdown_ratio > 0.1" in rules
    (tmp_path / "alerts.yml").write_text(
        rules.replace("ttq_drawdown_ratio > 0.1", "ttq_drawdown_ratio > 0.5")
    )
    proc = _promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert proc.returncode != 0
    assert "TtqDrawdownBreached" in proc.stdout + proc.stderr
