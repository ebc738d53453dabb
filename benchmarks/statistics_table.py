"""Cost of the full statistics table: 1.5M equity samples (about three years of 1m bars) and
10,000 trades, with a benchmark series. ``python benchmarks/statistics_table.py``.

The figure matters because every backtest and every combination of a sweep pays it once.
"""

from __future__ import annotations

import time

import numpy as np

from ttquant.analytics.statistics import TradeArrays, compute_statistics

MON_2024_01_01 = 1_704_067_200 * 10**9


def main() -> None:
    rng = np.random.default_rng(7)
    n, k = 1_500_000, 10_000
    ts = MON_2024_01_01 + np.arange(n, dtype=np.int64) * 60 * 10**9
    equity = 1e4 * np.cumprod(1.0 + rng.normal(0.0, 5e-4, n))
    entry = np.sort(rng.choice(ts[:-200], k, replace=False))
    pnl = rng.normal(1.0, 50.0, k)
    trades = TradeArrays(entry, entry + 90 * 60 * 10**9, pnl, pnl / 1e4, np.abs(pnl) * 1e-3)
    in_market = rng.random(n) < 0.5
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        compute_statistics(ts, equity, trades, in_market=in_market, benchmark=equity[::-1].copy())
        timings.append(time.perf_counter() - started)
    print(f"statistics of {n:,} samples and {k:,} trades: best of 5 {min(timings) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
