"""Saved backtests: everything a run produced reads back unchanged; runs are found and compared."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from tests.unit.store.backends import bare_run_row

from ttquant.analytics.statistics import compute_statistics
from ttquant.core.errors import StoreError
from ttquant.engine.runner import BacktestResult, trade_arrays
from ttquant.store import TradingStore
from ttquant.store.runs import (
    NEW_RUN_TABLES,
    RunRepository,
    backtest_batches,
    compare,
    config_differences,
)


def test_a_saved_backtest_reads_back_unchanged(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    result = demo_results[0]
    repo = RunRepository(store)
    run_id = repo.save_backtest(result)
    run = repo.get(run_id)
    assert run.kind == "backtest" and run.strategy == "sma_cross"
    assert run.instruments == "BTC/USDT@BINANCE"
    assert run.results_hash == result.results_hash
    assert run.statistics == result.statistics
    assert run.config == result.config.to_dict()
    assert (run.n_orders, run.n_fills, run.n_trades) == (
        len(result.orders),
        len(result.fills),
        len(result.round_trips),
    )
    assert run.final_equity == result.final_equity
    assert (run.start_ns, run.end_ns) == (int(result.curve.ts[0]), int(result.curve.ts[-1]))
    assert repo.fills(run_id) == result.fills
    events = repo.order_events(run_id)
    assert {o.client_order_id: o.events for o in result.orders} == events


def test_the_stored_equity_samples_give_the_runs_statistics(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    """A few hundred of the month's 44,640 samples, bit for bit the curve's, and the statistics
    computed from them (with the benchmark at their times) equal those the engine computed from
    every sample, but the exposure: a share of all samples."""
    result = demo_results[0]
    repo = RunRepository(store)
    run_id = repo.save_backtest(result)
    ts, equity = repo.equity(run_id)
    curve = result.curve
    assert 31 < len(ts) < len(curve.ts) // 20  # at least one sample a day
    at = np.searchsorted(curve.ts, ts)
    assert curve.ts[at].tolist() == ts.tolist()
    assert curve.equity[at].tolist() == equity.tolist()
    assert (ts[0], ts[-1]) == (curve.ts[0], curve.ts[-1])
    prices = curve.marks["BTC/USDT@BINANCE"]
    assert not np.isnan(prices).any()  # so the benchmark is the price itself
    recomputed = compute_statistics(
        ts,
        equity,
        trade_arrays(result.round_trips),
        benchmark=prices[at],
        risk_free_rate=result.config.risk_free_rate,
    )
    stored = repo.get(run_id).statistics
    assert stored["max_drawdown_pct"] > 0 and stored["n_trades"] > 0 and stored["beta"]
    del recomputed["exposure_time_pct"], stored["exposure_time_pct"]
    assert recomputed == stored


def test_a_run_is_saved_once(store: TradingStore, demo_results: tuple[BacktestResult, ...]) -> None:
    """Orders of a new run are appended, not upserted: the same rows again are refused whole."""
    batches = backtest_batches(demo_results[0], "a1b2c3d4e5f6", 1)
    store.write(batches, new_keys=NEW_RUN_TABLES)
    with pytest.raises(sa.exc.IntegrityError):
        store.write({"orders": batches["orders"][:1]}, new_keys=NEW_RUN_TABLES)
    store.write({"orders": batches["orders"][:1]})  # the upsert replaces it
    with store.read() as conn:
        count = conn.scalar(sa.text("SELECT count(*) FROM orders"))
    assert count == len(demo_results[0].orders)


def test_orders_and_positions_of_a_run_match_the_kernel(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    result = demo_results[1]
    run_id = RunRepository(store).save_backtest(result)
    with store.read() as conn:
        orders = conn.execute(
            sa.text(
                "SELECT client_order_id, status, filled_qty, avg_px FROM orders WHERE run_id = :r"
            ),
            {"r": run_id},
        ).all()
        last = conn.execute(
            sa.text(
                "SELECT quantity, commissions FROM position_snapshots WHERE run_id = :r "
                "ORDER BY ts DESC, id DESC LIMIT 1"
            ),
            {"r": run_id},
        ).one()
    assert sorted(orders) == sorted(
        (o.client_order_id, o.status.value, o.filled_qty, o.avg_px) for o in result.orders
    )
    open_qty = sum(p.quantity for p in result.open_positions)
    assert last.quantity == pytest.approx(open_qty, abs=1e-12)
    assert last.commissions == pytest.approx(sum(f.commission for f in result.fills))


def test_runs_are_listed_newest_first_and_found_by_prefix(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    repo = RunRepository(store)
    first = repo.save_backtest(demo_results[0])
    second = repo.save_backtest(demo_results[1])
    assert [r.run_id for r in repo.recent()] == [second, first]
    assert [r.run_id for r in repo.recent(limit=1)] == [second]
    assert [r.run_id for r in repo.recent(strategy="sma")] == [second, first]
    assert repo.recent(strategy="rsi") == []
    assert repo.get(first[:6]).run_id == first
    assert repo.get(second.upper()).run_id == second


def test_unknown_short_and_ambiguous_run_ids_are_one_line_errors(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    repo = RunRepository(store)
    with pytest.raises(StoreError, match=r"no run 'ffffff' in .* \(see: ttq runs list\)"):
        repo.get("ffffff")
    with pytest.raises(StoreError, match="run id 'ab' is too short: give at least 4 characters"):
        repo.get("ab")
    store.write({"strategy_runs": [bare_run_row(rid) for rid in ("abcd01", "abcd02")]})
    with pytest.raises(StoreError, match="run id 'abcd' is ambiguous: abcd01, abcd02"):
        repo.get("abcd")


def test_compare_gives_each_statistic_and_its_change(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    repo = RunRepository(store)
    a = repo.get(repo.save_backtest(demo_results[0]))
    b = repo.get(repo.save_backtest(demo_results[1]))
    changes = {c.key: c for c in compare(a, b)}
    assert list(changes) == list(demo_results[0].statistics)
    sa_, sb = demo_results[0].statistics, demo_results[1].statistics
    trades = changes["n_trades"]
    assert (trades.a, trades.b) == (sa_["n_trades"], sb["n_trades"])
    assert trades.delta == sb["n_trades"] - sa_["n_trades"]  # type: ignore[operator]
    assert changes["sharpe"].delta == pytest.approx(sb["sharpe"] - sa_["sharpe"])  # type: ignore[operator]
    assert changes["start"].delta is None  # timestamps are text
    assert config_differences(a.config, b.config) == [
        ("strategies[0].params.fast", 50, 20),
        ("strategies[0].params.slow", 200, 100),
    ]
