"""Job requests are checked and their paths pinned before a job process starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import DEMO_DATA, REPO

from ttquant.api.routers.jobs import _resolve_paths
from ttquant.core.errors import ConfigError


def _request(file: str, strategy: str = "sma_cross") -> dict[str, Any]:
    return {
        "kind": "backtest",
        "config": {
            "data": [{"file": file, "symbol": "BTC/USDT"}],
            "strategies": [{"name": strategy}],
            "out": "/tmp/elsewhere",
        },
    }


def test_relative_paths_become_absolute_under_the_root() -> None:
    resolved = _resolve_paths(_request("examples/data/" + DEMO_DATA.name), REPO)
    assert resolved["config"]["data"][0]["file"] == str(DEMO_DATA)
    assert resolved["config"]["out"] is None  # a job writes into its own work folder


def test_paths_outside_the_root_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="outside the server's data root"):
        _resolve_paths(_request(str(DEMO_DATA)), tmp_path)
    with pytest.raises(ConfigError, match="outside"):
        _resolve_paths(_request("../" + DEMO_DATA.name), tmp_path)
    strategy_file = tmp_path.parent / "evil.py"
    strategy_file.write_text("")
    with pytest.raises(ConfigError, match="strategy file"):
        _resolve_paths(_request(str(DEMO_DATA), f"{strategy_file}:Evil"), REPO.parent)
    download = {"kind": "download", "catalog": "/etc/catalog"}
    with pytest.raises(ConfigError, match="catalog"):
        _resolve_paths(download, tmp_path)


def test_incomplete_or_malformed_configs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no \\[\\[data\\]\\]"):
        _resolve_paths({"kind": "backtest", "config": {"strategies": [{"name": "x"}]}}, None)
    with pytest.raises(ConfigError, match="not found on the server"):
        _resolve_paths(_request("nope.csv"), tmp_path)
    with pytest.raises(ConfigError, match="config: Expected `int`"):
        bad = _request(str(DEMO_DATA))
        bad["config"]["venue"] = {"slippage_ticks": "many"}
        _resolve_paths(bad, None)
