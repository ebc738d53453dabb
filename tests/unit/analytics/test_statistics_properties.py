"""Invariants of compute_statistics on generated curves and trades (hypothesis)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttquant.analytics.statistics import STATISTICS, TradeArrays, compute_statistics

pytestmark = pytest.mark.filterwarnings("error")

START_NS = 1_704_067_200 * 10**9
# Gaps from a minute to three days, so curves span one or many UTC days and some weekends.
GAPS_S = st.sampled_from([60, 3_600, 5 * 3_600, 86_400, 3 * 86_400])
# Returns on a 0.01 % grid: a flat step is exactly flat, any other step is far above rounding
# noise, so scaling the curve cannot turn a tiny gain into a flat day.
STEP_RETURNS = st.integers(-4_000, 4_000).map(lambda k: k * 1e-4)
MONEY_KEYS = {spec.key for spec in STATISTICS if spec.kind == "money"}


@st.composite
def curves(draw: st.DrawFn, *, rising: bool = False) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 60))
    gaps = np.array(draw(st.lists(GAPS_S, min_size=n - 1, max_size=n - 1)), dtype=np.int64)
    ts = START_NS + np.concatenate(([0], np.cumsum(gaps))) * 10**9
    steps = draw(st.lists(STEP_RETURNS, min_size=n - 1, max_size=n - 1))
    if rising:
        steps = [abs(r) for r in steps]
    equity = draw(st.floats(10.0, 1e6)) * np.cumprod(np.concatenate(([1.0], 1.0 + np.array(steps))))
    return ts, equity


@st.composite
def trade_arrays(draw: st.DrawFn) -> TradeArrays:
    n = draw(st.integers(0, 30))
    cents = draw(st.lists(st.integers(-1_000_000, 1_000_000), min_size=n, max_size=n))
    pnl = np.array(cents, dtype=np.float64) / 100.0
    entry = START_NS + np.array(draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n)))
    held = np.array(draw(st.lists(st.integers(0, 10**5), min_size=n, max_size=n)), dtype=np.int64)
    entry_ns = entry.astype(np.int64)
    exit_ns = entry_ns + held * 10**9
    return TradeArrays(entry_ns, exit_ns, pnl, pnl / 1e4, np.abs(pnl) * 1e-3)


def _naive_drawdowns(ts: np.ndarray, equity: np.ndarray) -> tuple[list[float], list[float]]:
    """Episode depths and durations (seconds), walking the curve sample by sample."""
    peak, peak_at, depth = equity[0], 0, 0.0
    depths: list[float] = []
    durations: list[float] = []
    for i in range(1, len(equity)):
        if equity[i] >= peak:
            if peak_at < i - 1:  # samples in between were under the peak: an episode ends here
                depths.append(depth)
                durations.append((ts[i] - ts[peak_at]) / 1e9)
            peak, peak_at, depth = equity[i], i, 0.0
        else:
            depth = max(depth, 1.0 - equity[i] / peak)
    if peak_at < len(equity) - 1:  # still under water at the end
        depths.append(depth)
        durations.append((ts[-1] - ts[peak_at]) / 1e9)
    return depths, durations


def _number(value: object) -> float:
    assert isinstance(value, int | float), value
    return float(value)


@settings(max_examples=150, deadline=None)
@given(curves(), trade_arrays())
def test_bounds_and_identities(curve: tuple[np.ndarray, np.ndarray], trades: TradeArrays) -> None:
    ts, equity = curve
    stats = compute_statistics(ts, equity, trades)
    json.dumps(stats, allow_nan=False)
    assert stats["equity_final"] == equity[-1]
    assert stats["equity_peak"] == equity.max()
    assert 0.0 <= _number(stats["avg_drawdown_pct"]) <= _number(stats["max_drawdown_pct"]) <= 100.0
    assert 0.0 <= _number(stats["max_drawdown_duration"]) <= _number(stats["duration"])
    assert stats["n_trades"] == trades.pnl.size
    for key in ("win_rate_pct", "daily_win_rate_pct"):
        assert stats[key] is None or 0.0 <= _number(stats[key]) <= 100.0
    n_days = np.unique(ts // (86_400 * 10**9)).size
    assert _number(stats["winning_days"]) + _number(stats["losing_days"]) <= n_days


@settings(max_examples=150, deadline=None)
@given(curves())
def test_drawdowns_match_a_sample_by_sample_walk(curve: tuple[np.ndarray, np.ndarray]) -> None:
    ts, equity = curve
    stats = compute_statistics(ts, equity, TradeArrays.empty())
    depths, durations = _naive_drawdowns(ts, equity)
    assert stats["max_drawdown_pct"] == pytest.approx(max(depths, default=0.0) * 100)
    assert stats["avg_drawdown_pct"] == pytest.approx(np.mean(depths) * 100 if depths else 0.0)
    assert stats["max_drawdown_duration"] == max(durations, default=0.0)
    assert stats["avg_drawdown_duration"] == pytest.approx(np.mean(durations) if durations else 0.0)


@settings(max_examples=100, deadline=None)
@given(curves(rising=True))
def test_a_rising_curve_has_no_drawdown(curve: tuple[np.ndarray, np.ndarray]) -> None:
    ts, equity = curve
    stats = compute_statistics(ts, equity, TradeArrays.empty())
    assert stats["max_drawdown_pct"] == 0.0
    assert stats["avg_drawdown_pct"] == 0.0
    assert stats["max_drawdown_duration"] == 0.0
    assert stats["calmar"] is None
    assert stats["losing_days"] == 0


def _approx_equal(left: object, right: object) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return right == pytest.approx(left, rel=1e-9, abs=1e-9)
    return left == right


@settings(max_examples=150, deadline=None)
@given(curves(), trade_arrays(), st.floats(0.01, 100.0))
def test_scaling_money_scales_only_money_statistics(
    curve: tuple[np.ndarray, np.ndarray], trades: TradeArrays, factor: float
) -> None:
    ts, equity = curve
    benchmark = equity[::-1].copy()
    scaled_trades = TradeArrays(
        trades.entry_ns,
        trades.exit_ns,
        trades.pnl * factor,
        trades.return_pct,
        trades.fees * factor,
    )
    base = compute_statistics(ts, equity, trades, benchmark=benchmark)
    scaled = compute_statistics(ts, equity * factor, scaled_trades, benchmark=benchmark * factor)
    for key, value in base.items():
        expected = _number(value) * factor if key in MONEY_KEYS and value is not None else value
        assert _approx_equal(expected, scaled[key]), (key, value, scaled[key])
