"""`ttq optimize` as a user runs it: outputs, a runnable best config, resume, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from tests.conftest import DEMO_DATA, REPO
from typer.testing import CliRunner

from ttquant.cli.main import app

runner = CliRunner()
BASE = [
    "--strategy",
    "sma_cross",
    "--data",
    str(DEMO_DATA),
    "--timerange",
    "20240101-20240104",
    "--fee-bps",
    "1",
    "-p",
    "fast=5:30",
    "-p",
    "slow=40:120:10",
    "--workers",
    "1",
]


def ttq(*args: str) -> tuple[int, str]:
    """Exit code and output with rich's line wrapping undone."""
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("optimize")
    code, output = ttq("optimize", *BASE, "--trials", "6", "--min-trades", "5", "--out", str(out))
    assert code == 0, output
    assert "6 trials" in output and "Best trial #" in output and "deflated Sharpe" in output
    return out


def test_every_output_is_written(study: Path) -> None:
    for name in ("study.db", "trials.csv", "trials.parquet", "best.toml", "summary.json"):
        assert (study / name).stat().st_size > 0, name
    for name in ("results.json", "trades.csv", "report.html"):
        assert (study / "best" / name).stat().st_size > 0, name
    csv = pl.read_csv(study / "trials.csv")
    assert csv.height == 6
    assert csv.equals(
        pl.read_parquet(study / "trials.parquet").select(csv.columns), null_equal=True
    )
    for column in ("number", "state", "value", "feasible", "params_fast", "params_slow", "sharpe"):
        assert column in csv.columns
    html = (study / "report.html").read_text()
    for chart in ("opt-history", "opt-parallel", "chart-equity"):
        assert f'id="{chart}"' in html


def test_the_best_config_reproduces_the_best_trial_with_ttq_backtest(
    study: Path, tmp_path: Path
) -> None:
    summary = json.loads((study / "summary.json").read_text())
    best = summary["best"]
    trial = (
        pl.read_csv(study / "trials.csv")
        .filter(pl.col("number") == best["number"])
        .row(0, named=True)
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ttquant.cli.main",
            "backtest",
            "--config",
            str(study / "best.toml"),
            "--out",
            str(tmp_path),
            "-q",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((tmp_path / "results.json").read_text())["statistics"]
    assert stats["sharpe"] == trial["sharpe"] == best["value"]
    assert stats["n_trades"] == trial["n_trades"]
    assert {"fast": trial["params_fast"], "slow": trial["params_slow"]} == best["params"]


def test_running_again_resumes_the_study(study: Path, tmp_path: Path) -> None:
    before = pl.read_csv(study / "trials.csv")
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "study.db").write_bytes((study / "study.db").read_bytes())
    code, output = ttq("optimize", *BASE, "--trials", "9", "--min-trades", "5", "--out", str(copy))
    assert code == 0, output
    after = pl.read_csv(copy / "trials.csv")
    assert after.height == 9
    assert after.head(6).equals(before, null_equal=True)
    code, output = ttq(
        "optimize", *BASE, "--trials", "9", "--objective", "calmar", "--out", str(copy)
    )
    assert code == 2
    assert "was made for a different run (constraints, objective differ)" in output


def test_a_user_objective_and_cmaes(tmp_path: Path) -> None:
    objective = tmp_path / "objectives.py"
    objective.write_text("def fewer_trades(stats):\n    return stats['n_trades']\n")
    code, output = ttq(
        "optimize",
        *BASE,
        "--trials",
        "4",
        "--sampler",
        "cmaes",
        "--objective",
        f"{objective}:fewer_trades",
        "--direction",
        "minimize",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 0, output
    trials = pl.read_csv(tmp_path / "o" / "trials.csv")
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["direction"] == "minimize"
    assert summary["best"]["value"] == trials["n_trades"].min()


def test_failed_trials_are_reported_after_the_outputs(tmp_path: Path) -> None:
    strategy = tmp_path / "fragile.py"
    strategy.write_text(
        "from ttquant.strategy.library.ma_cross import SMACross\n"
        "class Fragile(SMACross):\n"
        "    def on_start(self):\n"
        "        if self.fast % 3 == 0:\n"
        "            raise RuntimeError('no multiples of three')\n"
        "        super().on_start()\n"
    )
    args = [a if a != "sma_cross" else f"{strategy}:Fragile" for a in BASE]
    code, output = ttq(
        "optimize", *args, "--trials", "8", "--max-retries", "0", "--out", str(tmp_path / "o")
    )
    assert code == 2
    assert "error: " in output and "trial(s) failed after 1 attempt(s) each" in output
    assert "raised RuntimeError in on_start" in output and "no multiples of three" in output
    assert "run the same command again to add trials in their place" in output
    trials = pl.read_csv(tmp_path / "o" / "trials.csv")
    failed = trials.filter(pl.col("state") == "fail")
    assert failed.height > 0 and (failed["params_fast"] % 3 == 0).all()
    assert (tmp_path / "o" / "report.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "size=3:1"], "error: --param size=3:1: LOW must be below HIGH"),
        (["-p", "fast=9:30"], "error: --param names parameter 'fast' twice"),
        (["-p", "speed=1:5"], "error: strategy 'sma_cross' has no parameter 'speed'"),
        (["--objective", "profit"], "error: unknown objective 'profit'"),
        (["--sampler", "grid"], "error: --sampler must be tpe, cmaes or random"),
        (["--direction", "up"], "error: --direction must be maximize or minimize"),
        (["--max-drawdown", "0"], "error: --max-drawdown must be a percentage in (0, 100]"),
        (["--trials", "0"], "error: --trials must be at least 1"),
        (["--data", "missing.csv"], "missing.csv"),
        (["--storage", "nosuchdb://x"], "error: optuna storage 'nosuchdb://x': cannot open it"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    code, output = ttq("optimize", *BASE, "--trials", "2", *args, "--out", str(tmp_path))
    assert code == 2, output
    assert message in output
    assert "Traceback" not in output


def test_out_is_required() -> None:
    code, output = ttq("optimize", *BASE)
    assert code == 2 and "Missing option '--out'" in output
