"""`ttq backtest` as a user runs it: output files, determinism and clear errors on bad input."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import DEMO_DATA, REPO
from typer.testing import CliRunner

from ttquant.cli.main import app

runner = CliRunner()
HEADER = "ts,open,high,low,close,volume\n"


def _bars(n: int = 300, start_ms: int = 1_704_067_200_000) -> list[str]:
    """Real bars: the first ``n`` rows of the demo month."""
    with gzip.open(DEMO_DATA, "rt") as f:
        rows = f.read().splitlines()[1 : n + 1]
    return [r + "\n" for r in rows]


def _run(*args: str) -> tuple[int, str]:
    """Exit code and output with rich's line wrapping undone."""
    result = runner.invoke(app, ["backtest", *args])
    return result.exit_code, " ".join(result.output.split())


def test_demo_config_writes_every_result_file(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ttquant.cli.main",
            "backtest",
            "--config",
            str(REPO / "examples" / "demo.toml"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "SUMMARY METRICS" in proc.stdout and "BACKTESTING REPORT" in proc.stdout
    for name in (
        "results.json",
        "trades.csv",
        "orders.csv",
        "fills.csv",
        "equity.csv",
        "report.html",
    ):
        assert (out / name).stat().st_size > 0, name
    doc = json.loads((out / "results.json").read_text())
    assert len(doc["statistics"]) >= 30
    assert doc["n_trades"] > 0 and doc["final_equity"] > 0
    assert doc["config"]["strategies"][0]["name"] == "sma_cross"
    assert len(doc["results_hash"]) == 64
    with (out / "trades.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == doc["n_trades"]
    for col in (
        "entry_ts",
        "exit_ts",
        "side",
        "qty",
        "entry_price",
        "exit_price",
        "pnl",
        "fees",
        "exit_reason",
    ):
        assert col in rows[0]
    assert rows[0]["entry_ts"].endswith("Z") and "T" in rows[0]["entry_ts"]
    # the trade PnL adds up to the change in equity when nothing is left open
    if not doc["open_positions"]:
        total = sum(float(r["pnl"]) for r in rows)
        start = doc["statistics"]["equity_start"]
        assert total == pytest.approx(doc["final_equity"] - start, rel=1e-9, abs=1e-6)


def test_same_input_gives_the_same_results_hash(tmp_path: Path) -> None:
    hashes = []
    for i in range(2):
        code, output = _run(
            "--strategy",
            "sma_cross",
            "--data",
            str(DEMO_DATA),
            "--symbol",
            "BTC/USDT",
            "--timerange",
            "20240101-20240108",
            "--fee-bps",
            "10",
            "--out",
            str(tmp_path / str(i)),
            "-q",
        )
        assert code == 0, output
        hashes.append(json.loads((tmp_path / str(i) / "results.json").read_text())["results_hash"])
    assert hashes[0] == hashes[1]
    assert (tmp_path / "0" / "fills.csv").read_bytes() == (
        tmp_path / "1" / "fills.csv"
    ).read_bytes()


def test_flags_reach_the_strategy_and_venue(tmp_path: Path) -> None:
    code, output = _run(
        "--strategy",
        "ema_cross",
        "--data",
        str(DEMO_DATA),
        "--symbol",
        "BTC/USDT",
        "--set",
        "fast=5",
        "--set",
        "slow=20",
        "--set",
        "long_only=false",
        "--size",
        "0.25",
        "--cash",
        "50000",
        "--timerange",
        "20240102-20240103",
        "--out",
        str(tmp_path),
        "-q",
    )
    assert code == 0, output
    doc = json.loads((tmp_path / "results.json").read_text())
    params = doc["config"]["strategies"][0]["params"]
    assert params == {"fast": "5", "slow": "20", "long_only": "false", "size": 0.25}
    assert doc["statistics"]["equity_start"] == 50_000
    assert doc["statistics"]["start"].startswith("2024-01-02")
    with (tmp_path / "trades.csv").open() as f:
        sides = {r["side"] for r in csv.DictReader(f)}
    assert sides == {"long", "short"}
    with (tmp_path / "fills.csv").open() as f:
        assert {float(r["qty"]) for r in csv.DictReader(f)} <= {0.25, 0.5}


def test_user_strategy_file(tmp_path: Path) -> None:
    source = tmp_path / "mine.py"
    source.write_text(
        "from ttquant.strategy.strategy import Strategy\n"
        "from ttquant.strategy.params import Param\n"
        "class BuyOnce(Strategy):\n"
        "    qty: float = Param(0.5)\n"
        "    def on_bar(self, bar):\n"
        "        if self.position().is_flat and not self.open_orders():\n"
        "            self.buy(self.qty)\n"
    )
    code, output = _run(
        "--strategy",
        f"{source}:BuyOnce",
        "--data",
        str(DEMO_DATA),
        "--timerange",
        "20240101-20240102",
        "--out",
        str(tmp_path / "o"),
        "-q",
    )
    assert code == 0, output
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    assert doc["open_positions"][0]["quantity"] == 0.5


def test_strategy_exception_names_strategy_callback_and_time(tmp_path: Path) -> None:
    source = tmp_path / "broken.py"
    source.write_text(
        "from ttquant.strategy.strategy import Strategy\n"
        "class Broken(Strategy):\n"
        "    def on_bar(self, bar):\n"
        "        if bar.ts_event >= 1704067800000000000:\n"
        "            raise ValueError('boom at ' + str(bar.close))\n"
    )
    code, output = _run("--strategy", f"{source}:Broken", "--data", str(DEMO_DATA))
    assert code == 3
    assert "strategy 'broken' raised ValueError in on_bar at 2024-01-01T00:11:00Z" in output
    assert "broken.py" in output and "raise ValueError" in output  # the user's own frame
    assert "ttquant/engine" not in output  # but none of ours


def _bad_file(tmp_path: Path, body: str, name: str = "bad.csv") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


BAD_FILES = {
    "missing_column": ("ts,open,high,low,volume\n1704067200000,1,2,0.5,3\n", "line 1", "close"),
    "nan_price": (
        HEADER + "1704067200000,1,2,0.5,1.5,3\n1704067260000,1,2,0.5,NaN,3\n",
        "line 3",
        "NaN",
    ),
    "non_positive": (
        HEADER + "1704067200000,1,2,0.5,1.5,3\n1704067260000,1,2,0,1.5,3\n",
        "line 3",
        "positive",
    ),
    "high_below_low": (
        HEADER + "1704067200000,1,2,0.5,1.5,3\n1704067260000,1,0.4,0.5,0.45,3\n",
        "line 3",
        "high",
    ),
    "unsorted": (
        HEADER + "1704067260000,1,2,0.5,1.5,3\n1704067200000,1,2,0.5,1.5,3\n",
        "line 3",
        "must increase",
    ),
    "duplicate": (
        HEADER + "1704067200000,1,2,0.5,1.5,3\n1704067200000,1,2,0.5,1.5,3\n",
        "line 3",
        "duplicate",
    ),
    "empty": (HEADER, "bad.csv", "no"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_data_file_gives_one_line_error(tmp_path: Path, case: str) -> None:
    body, where, what = BAD_FILES[case]
    path = _bad_file(tmp_path, body)
    code, output = _run("--strategy", "sma_cross", "--data", str(path))
    assert code == 2
    assert "Traceback" not in output
    assert "bad.csv" in output and where in output and what.lower() in output.lower(), output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--strategy", "no_such_strategy"], "unknown strategy 'no_such_strategy'"),
        (["--strategy", "sma_cross", "--set", "fastt=3"], "unknown parameter 'fastt'"),
        (
            ["--strategy", "sma_cross", "--set", "fast=abc"],
            "parameter 'fast' must be int, got 'abc'",
        ),
        (["--strategy", "sma_cross", "--set", "long_only=maybe"], "must be bool"),
        (["--strategy", "sma_cross", "--set", "fast=0"], "must be >= 1"),
        (["--strategy", "sma_cross", "--set", "fast"], "not of the form key=value"),
        (["--strategy", "sma_cross", "--timerange", "2024-01-01"], "2024-01-01"),
        (["--strategy", "sma_cross", "--account", "spot"], "--account must be cash or margin"),
        (["--strategy", "sma_cross", "--timerange", "20300101-"], "no market data"),
        (["--strategy", "missing.py:Thing"], "missing.py does not exist"),
    ],
)
def test_bad_arguments_give_one_line_error(args: list[str], expected: str) -> None:
    code, output = _run("--data", str(DEMO_DATA), *args)
    assert code == 2, output
    assert "Traceback" not in output
    assert expected in output, output


def test_bad_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[venue]\ncash = "lots"\n')
    code, output = _run("--config", str(cfg))
    assert code == 2 and "c.toml" in output and "cash" in output
    cfg.write_text("[venue\n")
    code, output = _run("--config", str(cfg))
    assert code == 2 and "not valid TOML" in output
    code, output = _run("--config", str(tmp_path / "nope.toml"))
    assert code == 2 and "nope.toml" in output


def test_two_instruments_lowercase_venue_and_a_later_first_instrument(tmp_path: Path) -> None:
    """The first --data file starts later than the second: the run and its statistics work."""
    late = tmp_path / "late.csv"
    late.write_text(HEADER + "".join(_bars(400)[100:]))
    code, output = _run(
        "--strategy",
        "sma_cross",
        "--data",
        str(late),
        "--symbol",
        "BTC/USDT",
        "--data",
        str(DEMO_DATA),
        "--symbol",
        "ETH/USDT",
        "--venue",
        "binance",
        "--timerange",
        "20240101-20240102",
        "--out",
        str(tmp_path / "o"),
        "-q",
    )
    assert code == 0, output
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    assert doc["statistics"]["buy_hold_return_pct"] is not None


def test_unwritable_output_folder_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, output = _run(
        "--strategy",
        "sma_cross",
        "--data",
        str(DEMO_DATA),
        "--timerange",
        "20240101-20240102",
        "--out",
        str(blocker / "sub"),
        "-q",
    )
    assert code == 2 and "Traceback" not in output and "sub" in output, output


def test_strategies_list_shows_parameters_defaults_and_ranges() -> None:
    result = runner.invoke(app, ["strategies", "list"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for name in ("ma_cross", "sma_cross", "ema_cross"):
        assert name in text
    assert "fast: int = 10 in [1, 1000]" in text
    assert "ma: str = 'sma' one of ['sma', 'ema']" in text
