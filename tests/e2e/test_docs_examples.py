"""The README's examples run as written: users copy them first (quickstarts that rot are the
most reported complaint about the anchors)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import DEMO_DATA, REPO
from typer.testing import CliRunner

from ttquant.cli.main import app


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_readme_strategy_example_runs(tmp_path: Path) -> None:
    (block,) = _python_blocks((REPO / "README.md").read_text())
    source = tmp_path / "my_strategies.py"
    source.write_text(block)
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "--strategy",
            f"{source}:Breakout",
            "--data",
            str(DEMO_DATA),
            "--timerange",
            "20240101-20240108",
            "--out",
            str(tmp_path / "out"),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    trades = (tmp_path / "out" / "trades.csv").read_text().splitlines()
    assert len(trades) > 1  # the example trades, and its stops close positions
    assert any(",stop_loss" in line for line in trades[1:])
