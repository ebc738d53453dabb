"""``ttq backtest`` saves its run in the store: the default file under $TTQ_HOME, or --db."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

from tests.conftest import DEMO_DATA
from typer.testing import CliRunner

from ttquant.cli.main import app
from ttquant.store import open_store
from ttquant.store.runs import RunRepository

runner = CliRunner()


def _backtest(out: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            "backtest",
            "--strategy",
            "sma_cross",
            "--data",
            str(DEMO_DATA),
            "--symbol",
            "BTC/USDT",
            "--timerange",
            "20240101-20240110",
            "--fee-bps",
            "10",
            "-q",
            "--out",
            str(out),
            *extra,
        ],
    )
    return result.exit_code, " ".join(result.output.split())


def test_a_backtest_is_saved_in_the_default_store(tmp_path: Path) -> None:
    code, output = _backtest(tmp_path / "out")
    assert code == 0, output
    match = re.search(r"run saved as ([0-9a-f]{12}) \(ttq runs show \1\)", output)
    assert match, output
    database = Path(os.environ["TTQ_HOME"]) / "records.sqlite"
    assert database.is_file()
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    with (tmp_path / "out" / "fills.csv").open() as f:
        fills = list(csv.DictReader(f))
    with open_store(f"sqlite:///{database}") as store:
        repo = RunRepository(store)
        run = repo.get(match.group(1))
        saved = repo.fills(run.run_id)
    assert run.results_hash == document["results_hash"]
    assert run.statistics == document["statistics"]
    assert [f.trade_id for f in saved] == [f["trade_id"] for f in fills]
    assert [f.last_px for f in saved] == [float(f["price"]) for f in fills]


def test_no_store_leaves_the_store_alone(tmp_path: Path) -> None:
    code, output = _backtest(tmp_path / "out", "--no-store")
    assert code == 0, output
    assert "run saved" not in output
    assert not (Path(os.environ["TTQ_HOME"]) / "records.sqlite").exists()


def test_db_chooses_the_store(tmp_path: Path, store_url: str) -> None:
    code, output = _backtest(tmp_path / "out", "--db", store_url)
    assert code == 0, output
    with open_store(store_url) as store:
        (run,) = RunRepository(store).recent()
    assert f"run saved as {run.run_id}" in output


def test_an_unreachable_store_is_one_line_after_the_results(tmp_path: Path) -> None:
    code, output = _backtest(tmp_path / "out", "--db", "postgresql+psycopg://u@127.0.0.1:1/x")
    assert code == 2
    assert (tmp_path / "out" / "results.json").is_file()  # the results are not lost
    assert output.endswith(
        "error: run not saved: cannot open store postgresql+psycopg://u@127.0.0.1:1/x: "
        'connection failed: connection to server at "127.0.0.1", port 1 failed: '
        "Connection refused (--no-store skips saving)"
    )
