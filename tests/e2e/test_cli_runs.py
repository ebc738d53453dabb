"""``ttq runs list | show | compare`` as a user runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa
from tests.conftest import REPO
from typer.testing import CliRunner

from ttquant.analytics.statistic_catalog import format_statistic
from ttquant.cli.main import app
from ttquant.engine.runner import BacktestResult
from ttquant.store import open_store
from ttquant.store.runs import RunRepository

runner = CliRunner()


def _runs(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["runs", *args])
    return result.exit_code, result.output


@pytest.fixture
def saved(store_url: str, demo_results: tuple[BacktestResult, ...]) -> tuple[str, str]:
    with open_store(store_url) as store:
        repo = RunRepository(store)
        return repo.save_backtest(demo_results[0]), repo.save_backtest(demo_results[1])


def _row(output: str, label: str) -> list[str]:
    """The cells of the table row whose first cell is ``label``."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r} in:\n{output}")


def test_list_shows_the_newest_run_first(
    store_url: str, saved: tuple[str, str], demo_results: tuple[BacktestResult, ...]
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ttquant.cli.main", "runs", "list", "--db", store_url],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    first, second = saved
    assert proc.stdout.index(second) < proc.stdout.index(first)
    for run_id, result in zip(saved, demo_results, strict=True):
        cells = _row(proc.stdout, run_id)
        assert cells[2:5] == ["backtest", "sma_cross", "BTC/USDT@BINANCE"]
        assert cells[5] == "2024-01-01 → 2024-02-01"
        assert cells[6] == str(len(result.round_trips))
        assert cells[7] == format_statistic(
            "total_return_pct", result.statistics["total_return_pct"]
        )
        assert cells[10] == f"{result.final_equity:,.2f}"


def test_show_prints_what_ran_and_every_statistic(
    saved: tuple[str, str], store_url: str, demo_results: tuple[BacktestResult, ...]
) -> None:
    code, output = _runs("show", saved[0][:5], "--db", store_url)
    assert code == 0, output
    result = demo_results[0]
    assert f"Run {saved[0]}" in output
    assert _row(output, "Results hash")[1] == result.results_hash
    assert _row(output, "Orders / fills / trades")[1] == (
        f"{len(result.orders)} / {len(result.fills)} / {len(result.round_trips)}"
    )
    assert _row(output, "Sharpe ratio")[1] == format_statistic(
        "sharpe", result.statistics["sharpe"]
    )
    assert _row(output, "Max drawdown")[1] == format_statistic(
        "max_drawdown_pct", result.statistics["max_drawdown_pct"]
    )
    assert '"fast": 50' in output and '"slow": 200' in output


def test_compare_shows_both_runs_and_the_change(
    saved: tuple[str, str], store_url: str, demo_results: tuple[BacktestResult, ...]
) -> None:
    code, output = _runs("compare", saved[0], saved[1], "--db", store_url)
    assert code == 0, output
    a, b = (r.statistics for r in demo_results)

    def change(key: str) -> float:
        before, after = a[key], b[key]
        assert isinstance(before, int | float) and isinstance(after, int | float)
        return after - before

    trades = _row(output, "Trades")
    assert trades[1:] == [str(a["n_trades"]), str(b["n_trades"]), f"{int(change('n_trades')):+d}"]
    assert _row(output, "Total return")[3] == f"{change('total_return_pct'):+.2f} pp"
    assert _row(output, "Equity final")[3] == f"{change('equity_final'):+,.2f}"
    assert _row(output, "strategies[0].params.fast")[1:] == ["50", "20"]


def test_an_empty_store_says_so(store_url: str) -> None:
    code, output = _runs("list", "--db", store_url)
    assert code == 0 and output.startswith("no runs in ")


@pytest.mark.parametrize("run_id", ["ffffffff", "ab"])
def test_an_unknown_run_is_one_line(run_id: str, store_url: str) -> None:
    code, output = _runs("show", run_id, "--db", store_url)
    assert code == 2
    assert output.count("\n") == 1 and output.startswith("error: ")
    assert "no run 'ffffffff'" in output or "too short" in output


def test_a_store_that_cannot_connect_is_one_line() -> None:
    code, output = _runs("list", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert code == 2
    assert output.count("\n") == 1
    assert output.startswith(
        "error: cannot open store postgresql+psycopg://nobody@127.0.0.1:1/none"
    )


def test_a_newer_schema_is_one_line(store_url: str) -> None:
    with open_store(store_url) as store, store.transaction() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    code, output = _runs("list", "--db", store_url)
    assert code == 2 and output.count("\n") == 1
    assert "schema is at revision 9999, newer than this ttquant knows" in output
