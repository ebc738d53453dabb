"""`ttq walkforward` as a user runs it: outputs, resume, optuna windows, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from tests.conftest import DEMO_DATA
from typer.testing import CliRunner

from ttquant.cli.main import app

runner = CliRunner()
BASE = [
    "--strategy",
    "sma_cross",
    "--data",
    str(DEMO_DATA),
    "--timerange",
    "20240101-20240110",
    "--fee-bps",
    "1",
    "-p",
    "fast=10:30:10",
    "-p",
    "slow=60:120:60",
    "--workers",
    "1",
]


def ttq(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("walkforward")
    code, output = ttq(
        "walkforward", *BASE, "--in-sample", "3d", "--out-of-sample", "2d", "--out", str(out)
    )
    assert code == 0, output
    assert "WALK-FORWARD WINDOWS" in output and "walk-forward efficiency" in output
    return out


def test_every_output_is_written(walk: Path) -> None:
    for stem in ("windows", "trials", "oos_equity"):
        csv = pl.read_csv(walk / f"{stem}.csv")
        assert csv.height > 0
        assert csv.equals(
            pl.read_parquet(walk / f"{stem}.parquet").select(csv.columns), null_equal=True
        )
    windows = pl.read_csv(walk / "windows.csv")
    assert windows.height == 3  # 9 days: 3 in sample, then 3 x 2 out of sample
    assert pl.read_csv(walk / "trials.csv").height == 3 * 6
    summary = json.loads((walk / "summary.json").read_text())
    assert summary["windows"] == 3 and summary["mode"] == "rolling"
    assert {s["name"] for s in summary["parameter_stability"]} == {"fast", "slow"}
    assert "deflated_sharpe" in summary and "walk_forward_efficiency" in summary
    assert 'id="wf-windows"' in (walk / "report.html").read_text()


def test_running_again_resumes(walk: Path) -> None:
    before = {p.name: p.read_bytes() for p in walk.glob("*.csv")}
    code, output = ttq(
        "walkforward", *BASE, "--in-sample", "3d", "--out-of-sample", "2d", "--out", str(walk)
    )
    assert code == 0, output
    assert {p.name: p.read_bytes() for p in walk.glob("*.csv")} == before


def test_anchored_windows_with_tpe(tmp_path: Path) -> None:
    code, output = ttq(
        "walkforward",
        *BASE,
        "--in-sample",
        "3d",
        "--out-of-sample",
        "2d",
        "--anchored",
        "--optimizer",
        "tpe",
        "--trials",
        "3",
        "--out",
        str(tmp_path),
        "-q",
    )
    assert code == 0, output
    assert output == ""  # --quiet
    windows = pl.read_csv(tmp_path / "windows.csv")
    assert windows["is_start"].unique().to_list() == ["2024-01-01T00:00:00Z"]
    assert windows["trials"].to_list() == [3, 3, 3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--in-sample", "3x", "--out-of-sample", "2d"],
            "error: --in-sample '3x' is not a duration",
        ),
        (["--in-sample", "3d", "--out-of-sample", "0d"], "error: --out-of-sample '0d' is not a"),
        (
            ["--in-sample", "3d", "--out-of-sample", "2d", "--step", "1d"],
            "error: --step must be at least --out-of-sample",
        ),
        (
            ["--in-sample", "8d", "--out-of-sample", "2d"],
            "error: the data (2024-01-01 to 2024-01-10) is too short",
        ),
        (
            ["--in-sample", "3d", "--out-of-sample", "2d", "--max-combinations", "5"],
            "error: the grid has 6 parameter sets (more than --max-combinations 5)",
        ),
        (
            ["--in-sample", "3d", "--out-of-sample", "2d", "--optimizer", "anneal"],
            "error: --optimizer must be grid, tpe, cmaes or random",
        ),
        (
            ["--in-sample", "3d", "--out-of-sample", "2d", "--chunk-size", "0"],
            "error: --chunk-size must be at least 1",
        ),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    code, output = ttq("walkforward", *BASE, *args, "--out", str(tmp_path))
    assert code == 2, output
    assert message in output
    assert "Traceback" not in output


def test_a_float_range_without_a_step_has_no_grid(tmp_path: Path) -> None:
    strategy = tmp_path / "banded.py"
    strategy.write_text(
        "from ttquant.strategy.library.ma_cross import SMACross\n"
        "from ttquant.strategy.params import Param\n"
        "class Banded(SMACross):\n"
        "    band: float = Param(0.0, min=0.0, max=1.0)\n"
    )
    args = [a if a != "sma_cross" else f"{strategy}:Banded" for a in BASE]
    code, output = ttq(
        "walkforward",
        *args,
        "-p",
        "band=0:0.5",
        "--in-sample",
        "3d",
        "--out-of-sample",
        "2d",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 2
    assert "error: parameter 'band': a float range needs a step for a grid" in output


def test_each_instrument_gets_its_own_folder(tmp_path: Path) -> None:
    code, output = ttq(
        "walkforward",
        *BASE,
        "--data",
        str(DEMO_DATA),
        "--symbol",
        "BTC/USDT",
        "--symbol",
        "XBT/USDT",
        "--in-sample",
        "3d",
        "--out-of-sample",
        "2d",
        "--each-instrument",
        "--out",
        str(tmp_path),
    )
    assert code == 0, output
    assert "WALK-FORWARD WINDOWS: BTC-USDT" in output and "WALK-FORWARD WINDOWS: XBT-USDT" in output
    # the same bars under two symbols: the same walk-forward twice
    for name in ("windows.csv", "oos_equity.csv"):
        assert (tmp_path / "BTC-USDT" / name).read_bytes() == (
            tmp_path / "XBT-USDT" / name
        ).read_bytes()
    assert pl.read_csv(tmp_path / "instruments.csv")["instrument"].to_list() == [
        "BTC-USDT",
        "XBT-USDT",
    ]
