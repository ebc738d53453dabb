"""`ttq sweep` as a user runs it: result files, both engines agreeing, clear errors."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import polars as pl
import pytest
from tests.conftest import DEMO_DATA
from typer.testing import CliRunner

from ttquant.cli.main import app

runner = CliRunner()
GRID = ["--grid", "fast=5:15:5", "--grid", "slow=10:30:10"]


def _sweep(out: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app, ["sweep", "--strategy", "sma_cross", "--data", str(DEMO_DATA), "--out", str(out),
              "--quiet", *args],
    )  # fmt: skip
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture(scope="module")
def vectorized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "vec"
    code, output = _sweep(out, *GRID, "--engine", "vectorized", "--fee-bps", "10")
    assert code == 0, output
    return out


def test_writes_results_best_config_and_report(vectorized: Path) -> None:
    frame = pl.read_parquet(vectorized / "results.parquet")
    assert frame.height == 9  # 3 fast x 3 slow
    refused = frame.filter(~pl.col("feasible"))
    # fast >= slow is refused by the strategy: (10, 10), (15, 10)
    assert sorted(zip(refused["fast"], refused["slow"], strict=True)) == [(10, 10), (15, 10)]
    assert all("must be shorter" in r for r in refused["reason"])
    assert pl.read_csv(vectorized / "results.csv").height == 9
    feasible = frame.filter(pl.col("feasible"))
    best = feasible.sort("sharpe", descending=True).row(0, named=True)
    config = tomllib.loads((vectorized / "best.toml").read_text())
    params = config["strategies"][0]["params"]
    assert (params["fast"], params["slow"]) == (best["fast"], best["slow"])
    summary = json.loads((vectorized / "summary.json").read_text())
    assert summary["engine"] == "vectorized" and summary["n_refused"] == 2
    report = (vectorized / "report.html").read_text()
    for part in ("chart-heatmap", "chart-parallel", "chart-equity", "Top 7 combinations"):
        assert part in report


def test_best_config_runs_in_ttq_backtest_with_the_same_statistics(
    vectorized: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["backtest", "--config", str(vectorized / "best.toml"), "--out", str(tmp_path),
              "--quiet", "--no-store"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "results.json").read_text())["statistics"]
    best = json.loads((vectorized / "summary.json").read_text())["best"]["statistics"]
    assert stats["n_trades"] == best["n_trades"]
    assert stats["equity_final"] == pytest.approx(best["equity_final"], rel=1e-11)
    assert stats["sharpe"] == pytest.approx(best["sharpe"], rel=1e-9)


def test_event_engine_gives_the_same_table(vectorized: Path, tmp_path: Path) -> None:
    code, output = _sweep(tmp_path, *GRID, "--engine", "event", "--fee-bps", "10")
    assert code == 0, output
    a = pl.read_parquet(vectorized / "results.parquet")
    b = pl.read_parquet(tmp_path / "results.parquet")
    assert a["n_trades"].to_list() == b["n_trades"].to_list()
    assert a["feasible"].to_list() == b["feasible"].to_list()
    for column in ("equity_final", "sharpe", "max_drawdown_pct", "exposure_time_pct"):
        for x, y in zip(a[column].to_list(), b[column].to_list(), strict=True):
            assert (x is None and y is None) or x == pytest.approx(y, rel=1e-9), column


def test_random_search_and_constraints(tmp_path: Path) -> None:
    code, output = _sweep(
        tmp_path, "--grid", "fast=2:40:2", "--grid", "slow=10:200:10", "--random", "12",
        "--seed", "7", "--min-trades", "150", "--objective", "total_return",
    )  # fmt: skip
    assert code == 0, output
    frame = pl.read_parquet(tmp_path / "results.parquet")
    assert frame.height == 12
    assert frame.select("fast", "slow").unique().height == 12
    few = frame.filter(pl.col("n_trades") < 150)
    assert not few["feasible"].any() and all("trades < 150" in r for r in few["reason"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "fastt=5:10:1"], "has no parameter 'fastt'"),
        (["--grid", "fast=10:5:1"], "LOW must be below HIGH"),
        (["--grid", "fast=5:10:0"], "step must be positive"),
        (["--grid", "fast=5:10:x"], "is not a int"),
        (["--grid", "fast=0:10:1"], "must be >= 1"),
        (["--grid", "fast=5:10", "--grid", "fast=6:9"], "names parameter 'fast' twice"),
        ([], "more than 1,000,000"),
        (["--grid", "fast=5:10", "--random", "0"], "--random must be a positive"),
        (["--grid", "fast=5:10", "--engine", "gpu"], "--engine must be"),
        (["--grid", "fast=5:10", "--objective", "alpha"], "unknown objective 'alpha'"),
    ],
)
def test_bad_input_is_one_line_error(tmp_path: Path, args: list[str], message: str) -> None:
    code, output = _sweep(tmp_path / "x", *args)
    assert code == 2
    assert output.startswith("error:") and message in output, output
    assert "Traceback" not in output


def test_strategy_without_vectorized_form_needs_the_event_engine(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["sweep", "--strategy", "rsi_reversion", "--data", str(DEMO_DATA), "--out",
              str(tmp_path), "--grid", "period=10,14", "--engine", "vectorized", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "has no vectorized form" in " ".join(result.output.split())
