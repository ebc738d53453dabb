"""The samples that carry a curve's statistics: the same as every sample's, and the kernels' own."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ttquant.analytics.equity_samples import statistics_samples
from ttquant.analytics.statistics import TradeArrays, compute_statistics
from ttquant.model.instruments import spot
from ttquant.research.vectorized.portfolio import Market, VenueSettings, run_targets

START_NS = 1_704_067_200 * 10**9  # 2024-01-01, a Monday
MINUTE_NS = 60 * 10**9
# From a minute to two days: many samples a day, days without any, weekends.
GAPS_MIN = st.sampled_from([1, 1, 1, 7, 60, 300, 1_440, 2_880])
# Whole units on a ~100 base: many samples exactly on the running peak (ties), deep and shallow
# drawdowns, recoveries to the very same value.
STEPS = st.integers(-6, 6)


@st.composite
def curves(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 400))
    gaps = np.array(draw(st.lists(GAPS_MIN, min_size=n - 1, max_size=n - 1)), dtype=np.int64)
    ts = START_NS + np.concatenate(([0], np.cumsum(gaps))) * MINUTE_NS
    steps = np.array(draw(st.lists(STEPS, min_size=n - 1, max_size=n - 1)), dtype=np.float64)
    equity = 100.0 + np.concatenate(([0.0], np.cumsum(steps)))
    prices = 50.0 * np.exp(np.concatenate(([0.0], np.cumsum(steps * 1e-3))))
    return ts, equity, prices


@settings(max_examples=300, deadline=None)
@given(curves())
def test_the_kept_samples_give_every_statistic_of_the_full_curve(
    curve: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    ts, equity, prices = curve
    kept = statistics_samples(ts, equity)
    assert np.all(np.diff(kept) > 0) and kept[0] == 0 and kept[-1] == len(ts) - 1
    trades = TradeArrays.empty()
    full = compute_statistics(ts, equity, trades, benchmark=prices)
    assert compute_statistics(ts[kept], equity[kept], trades, benchmark=prices[kept]) == full


def test_a_rising_curve_keeps_only_its_daily_closes() -> None:
    ts = START_NS + np.arange(3 * 1_440, dtype=np.int64) * MINUTE_NS  # three whole days
    kept = statistics_samples(ts, np.linspace(100.0, 200.0, ts.size))
    assert kept.tolist() == [0, 1_439, 2_879, 4_319]


def test_a_drawdown_keeps_its_peak_each_days_low_and_its_recovery() -> None:
    day = 1_440
    ts = START_NS + np.arange(2 * day, dtype=np.int64) * MINUTE_NS
    equity = np.full(ts.size, 100.0)
    equity[:10] = np.arange(10.0) + 91.0  # up to 100 at minute 9: the peak
    equity[10:day] = 95.0  # under water from minute 10 through the first day
    equity[[500, 600]] = 90.0  # the first day's low, twice: the first is kept
    equity[day : day + 30] = 97.0
    equity[day + 20] = 93.0  # the second day's low
    equity[day + 30 :] = 101.0  # recovered at minute day + 30
    kept = statistics_samples(ts, equity)
    assert kept.tolist() == [0, 9, 500, day - 1, day + 20, day + 30, 2 * day - 1]
    assert statistics_samples(ts[:0], equity[:0]).size == 0


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31), st.integers(50, 2_000))
def test_the_vectorized_kernel_keeps_exactly_these_samples(seed: int, n: int) -> None:
    """The research kernels select their samples bar by bar while they run (numba); a finished
    curve is selected in one pass over arrays. Both are the same rule."""
    rng = np.random.default_rng(seed)
    close = np.ascontiguousarray(100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, 1)), axis=0)))
    ts = START_NS + np.arange(n, dtype=np.int64) * (3 * 3_600 * 10**9 // 7)  # ~8 bars a day
    inst = spot("BTC/USDT", "SIM", price_increment=1e-8, size_increment=1e-8)
    market = Market(ts, MINUTE_NS, close, close * 1.001, close * 0.999, close, (inst,))
    targets = np.where(rng.random((1, n, 1)) < 0.05, rng.uniform(-2, 2, (1, n, 1)), np.nan)
    venue = VenueSettings(cash=1_000.0, leverage=5.0)
    full_ts, full_equity = run_targets(market, targets, venue, full_curve=True).equity(0)
    kernel_idx, kernel_equity = run_targets(market, targets, venue).samples(0)
    kept = statistics_samples(full_ts, full_equity)
    assert kept.tolist() == kernel_idx.tolist()
    assert full_equity[kept].tolist() == kernel_equity.tolist()
