"""Walk-forward on real BTC/USDT 1-minute bars (March 2023, with the exchange's 80-minute
outage of 2023-03-24): windows never leak, the stitched equity is continuous, and every number
agrees with ordinary backtests of the same ranges."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from tests.conftest import BTC_1M

from ttquant.core.time import NANOS_PER_DAY, datetime_to_ns
from ttquant.engine.config import BacktestConfig, DataConfig, StrategyConfig, VenueConfig
from ttquant.engine.runner import run_backtest
from ttquant.research.execution import ExecutionSettings
from ttquant.research.objectives import Constraints
from ttquant.research.optimize import StudySettings
from ttquant.research.walkforward_job import WalkForwardJob, WalkForwardSummary, run_walkforward

MINUTE = 60 * 10**9
CASH = 100_000.0
GRID = {"fast": "10:30:10", "slow": "60:120:60"}


def month_of(source: Path, folder: Path) -> Path:
    """The period's rows of a real 2022-2024 file, unchanged (loading 3 years per backtest
    would cost more than the backtests)."""
    bars = pl.read_csv(source).filter(
        pl.col("ts").is_between(1_678_406_400_000, 1_680_652_800_000, closed="left")
    )  # 2023-03-10 to 2023-04-05
    path = folder / source.name.replace("2022-2024.csv.gz", "2023-03.csv")
    bars.write_csv(path)
    return path


@pytest.fixture(scope="module")
def march(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return month_of(BTC_1M, tmp_path_factory.mktemp("march"))


def config(data: Path) -> BacktestConfig:
    return BacktestConfig(
        data=[DataConfig(file=str(data), symbol="BTC/USDT")],
        strategies=[StrategyConfig(name="sma_cross")],
        venue=VenueConfig(fee_bps=1.0, cash=CASH),
    )


def ns(iso: str) -> int:
    return datetime_to_ns(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def walk(data: Path, out: Path, **kwargs: object) -> list[WalkForwardSummary]:
    job = WalkForwardJob(
        config=config(data),
        out=out,
        in_sample=5 * NANOS_PER_DAY,
        out_of_sample=2 * NANOS_PER_DAY,
        params=dict(GRID),
        constraints=Constraints(min_trades=2),
        execution=ExecutionSettings(workers=1, progress=False),
        **kwargs,  # type: ignore[arg-type]
    )
    return run_walkforward(job)


@pytest.fixture(scope="module")
def rolling(march: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wf_rolling")
    walk(march, out)
    return out


def backtest(data: Path, params: dict[str, object], start: int, end: int) -> dict[str, object]:
    """An ordinary backtest of ``[start, end)``, from the file, as `ttq backtest` runs it."""
    cfg = config(data)
    cfg.timerange = f"{start // 10**9}-{end // 10**9}"
    cfg.strategies[0].params = params
    result = run_backtest(cfg)
    return {**result.statistics, "final_equity": result.final_equity}


def test_out_of_sample_never_overlaps_its_in_sample(rolling: Path) -> None:
    windows = pl.read_csv(rolling / "windows.csv").to_dicts()
    assert len(windows) == 10  # 26 days: 5 in sample, then 10 x 2 out of sample, 1 day left
    for w in windows:
        assert ns(w["is_end"]) == ns(w["oos_start"])
        assert ns(w["is_last_bar"]) < ns(w["oos_first_bar"])  # bars (opens) used
        assert ns(w["is_curve_end"]) < ns(w["oos_curve_start"])  # what the backtests saw
        assert ns(w["oos_first_bar"]) >= ns(w["oos_start"])
        assert ns(w["oos_last_bar"]) < ns(w["oos_end"])
    for a, b in itertools.pairwise(windows):
        assert a["oos_end"] == b["oos_start"]  # out-of-sample ranges tile the period
    trials = pl.read_csv(rolling / "trials.csv").to_dicts()
    assert len(trials) == 10 * 6
    for t in trials:  # no in-sample evaluation ever saw a bar of its out-of-sample range
        w = windows[t["window"]]
        assert ns(w["is_start"]) < ns(t["start"]) and ns(t["end"]) <= ns(w["oos_start"])


def test_the_stitched_equity_is_continuous(rolling: Path) -> None:
    curve = pl.read_csv(rolling / "oos_equity.csv")
    ts = np.array([ns(t) for t in curve["ts"]], dtype=np.int64)
    equity = curve["equity"].to_numpy()
    steps = np.diff(ts)
    assert steps.min() == MINUTE
    gaps = ts[1:][steps != MINUTE]
    assert [int(g) for g in gaps] == [ns("2023-03-24T14:01:00Z")]  # the real outage, only
    window = curve["window"].to_numpy()
    seams = np.flatnonzero(np.diff(window)) + 1
    assert len(seams) == 9
    # market orders fill at the next open, so nothing changes on a segment's first bar: the
    # stitched curve continues exactly where the previous segment ended
    assert np.all(equity[seams] == equity[seams - 1])
    assert equity[0] == CASH


def test_stitched_results_equal_ordinary_backtests_of_each_range(
    rolling: Path, march: Path
) -> None:
    windows = pl.read_csv(rolling / "windows.csv").to_dicts()
    summary = json.loads((rolling / "summary.json").read_text())
    profit = 0.0
    trades = 0
    for w in windows:
        params = {"fast": w["params_fast"], "slow": w["params_slow"]}
        oos = backtest(march, params, ns(w["oos_start"]), ns(w["oos_end"]))
        profit += float(oos["final_equity"]) - CASH  # type: ignore[arg-type]
        trades += int(oos["n_trades"])  # type: ignore[call-overload]
        assert w["oos_total_return_pct"] == pytest.approx(oos["total_return_pct"], rel=1e-12)
    equity = pl.read_csv(rolling / "oos_equity.csv")["equity"].to_numpy()
    assert equity[-1] - CASH == pytest.approx(profit, rel=1e-9)
    assert summary["oos_statistics"]["n_trades"] == trades


def test_each_window_chose_the_best_feasible_in_sample_parameters(
    rolling: Path, march: Path
) -> None:
    windows = pl.read_csv(rolling / "windows.csv").to_dicts()
    w = windows[4]
    results = {
        (fast, slow): backtest(
            march, {"fast": fast, "slow": slow}, ns(w["is_start"]), ns(w["is_end"])
        )
        for fast in (10, 20, 30)
        for slow in (60, 120)
    }
    feasible = {k: v for k, v in results.items() if int(v["n_trades"]) >= 2}  # type: ignore[call-overload]
    best = max(feasible, key=lambda k: float(feasible[k]["sharpe"]))  # type: ignore[arg-type]
    assert (w["params_fast"], w["params_slow"]) == best
    assert w["is_objective"] == pytest.approx(feasible[best]["sharpe"], rel=1e-12)


def test_efficiency_and_report(rolling: Path) -> None:
    windows = pl.read_csv(rolling / "windows.csv").to_dicts()
    summary = json.loads((rolling / "summary.json").read_text())
    for w in windows:
        if w["is_annual_return_pct"] > 0:
            assert w["efficiency"] == pytest.approx(
                w["oos_annual_return_pct"] / w["is_annual_return_pct"]
            )
        else:
            assert w["efficiency"] is None
    is_mean = np.mean([w["is_annual_return_pct"] for w in windows])
    expected = summary["oos_statistics"]["annual_return_pct"] / is_mean if is_mean > 0 else None
    assert summary["walk_forward_efficiency"] == pytest.approx(expected)
    dsr = summary["deflated_sharpe"]
    assert dsr is None or (0.0 <= dsr["probability"] <= 1.0 and dsr["n_trials"] == 60)
    stability = {s["name"]: s for s in summary["parameter_stability"]}
    assert stability["fast"]["values"] == [w["params_fast"] for w in windows]
    html = (rolling / "report.html").read_text()
    for chart in ("wf-windows", "wf-returns", "wf-param-0", "chart-equity", "chart-price-0"):
        assert f'id="{chart}"' in html


def test_a_rerun_resumes_from_stored_tasks(
    rolling: Path, march: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {p.name: p.read_bytes() for p in rolling.glob("*.csv")}
    evaluations: list[object] = []
    for name in ("evaluate", "run"):  # in-sample and out-of-sample backtests
        monkeypatch.setattr(
            f"ttquant.research.walkforward_job.{name}", lambda *a: evaluations.append(a)
        )
    walk(march, rolling)
    assert evaluations == []  # every task came from the store
    assert {p.name: p.read_bytes() for p in rolling.glob("*.csv")} == before


def test_anchored_windows_with_optuna(march: Path, tmp_path: Path) -> None:
    walk(
        march,
        tmp_path,
        anchored=True,
        optimizer="tpe",
        settings=StudySettings(n_trials=4, seed=9),
        step=4 * NANOS_PER_DAY,
    )
    windows = pl.read_csv(tmp_path / "windows.csv").to_dicts()
    assert len(windows) == 5
    assert {w["is_start"] for w in windows} == {"2023-03-10T00:00:00Z"}
    for w in windows:
        assert ns(w["is_curve_end"]) < ns(w["oos_curve_start"])
        assert w["trials"] == 4
    curve = pl.read_csv(tmp_path / "oos_equity.csv")
    ts = np.array([ns(t) for t in curve["ts"]], dtype=np.int64)
    assert np.all(np.diff(ts) > 0)
    # step 4 days, OOS 2 days: a 2-day hole between segments (and perhaps the outage)
    holes = {int(g) for g in np.diff(ts) if g > MINUTE}
    assert 2 * NANOS_PER_DAY + MINUTE in holes
    assert holes <= {2 * NANOS_PER_DAY + MINUTE, 81 * MINUTE}


def test_each_instrument_is_walked_on_its_own(
    march: Path, rolling: Path, shared_data: Path, tmp_path: Path
) -> None:
    """BTC and ETH in one run, one task list: BTC's results are exactly those of walking BTC
    alone; ETH gets its own windows, choices and report."""
    eth = month_of(shared_data / "bars_1m" / "binance_spot_ETHUSDT_1m_2022-2024.csv.gz", tmp_path)
    cfg = config(march)
    cfg.data.append(DataConfig(file=str(eth), symbol="ETH/USDT"))
    summaries = run_walkforward(
        WalkForwardJob(
            config=cfg,
            out=tmp_path / "both",
            in_sample=5 * NANOS_PER_DAY,
            out_of_sample=2 * NANOS_PER_DAY,
            params=dict(GRID),
            constraints=Constraints(min_trades=2),
            each_instrument=True,
            execution=ExecutionSettings(workers=1, progress=False),
        )
    )
    assert [s.instrument for s in summaries] == ["BTC-USDT", "ETH-USDT"]
    for name in ("windows.csv", "trials.csv", "oos_equity.csv"):
        assert (tmp_path / "both" / "BTC-USDT" / name).read_bytes() == (rolling / name).read_bytes()
    eth_windows = pl.read_csv(tmp_path / "both" / "ETH-USDT" / "windows.csv")
    assert eth_windows.height == 10
    assert (
        eth_windows["oos_total_return_pct"].to_list()
        != pl.read_csv(rolling / "windows.csv")["oos_total_return_pct"].to_list()
    )
    assert (tmp_path / "both" / "ETH-USDT" / "report.html").exists()
    table = pl.read_csv(tmp_path / "both" / "instruments.csv")
    assert table["instrument"].to_list() == ["BTC-USDT", "ETH-USDT"]
    assert table["oos_trades"].to_list() == [s.oos_statistics["n_trades"] for s in summaries]
