"""The few samples of an equity curve that carry all of its statistics.

Kept: the first and last sample, each UTC day's last (daily returns), and per drawdown episode
the last sample on the peak before it, its deepest sample within each UTC day and the sample
that recovers the peak. On them the running peak, every episode's depth and duration, the peak
equity and the daily closes equal the full curve's, so
:func:`ttquant.analytics.statistics.compute_statistics` on them (with the benchmark at the same
samples) gives the full curve's results, all but the exposure: a share of every sample.

This is the rule the vectorized research kernels apply bar by bar
(:mod:`ttquant.research.vectorized.samples`, a test checks both select the same samples), in
array form for a curve that is already complete: the 1,000,000-bar benchmark backtest keeps
1,395 samples. It uses numpy only, so a process that never runs the research engine doesn't pay
for importing numba (a third of a second).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ttquant.analytics.daily import DAY_NS


def statistics_samples(ts_ns: NDArray[np.int64], equity: NDArray[np.float64]) -> NDArray[np.intp]:
    """Indices, increasing, of the samples of ``(ts_ns, equity)`` that keep every statistic."""
    n = equity.size
    if n == 0:
        return np.empty(0, dtype=np.intp)
    days = ts_ns // DAY_NS
    same_day = days[1:] == days[:-1]
    underwater = equity < np.maximum.accumulate(equity)
    edges = np.diff(underwater.view(np.int8))
    starts = np.flatnonzero(edges == 1) + 1  # first sample below the peak
    recoveries = np.flatnonzero(edges == -1) + 1  # first sample back at the peak
    return np.unique(
        np.concatenate(
            (
                [0, n - 1],
                np.flatnonzero(~same_day),  # each day's last; the last day's is n - 1
                starts - 1,
                recoveries,
                _daily_lows(underwater, same_day, equity),
            )
        ).astype(np.intp)
    )


def _daily_lows(
    underwater: NDArray[np.bool_], same_day: NDArray[np.bool_], equity: NDArray[np.float64]
) -> NDArray[np.intp]:
    """The first minimum of each run of underwater samples within one day."""
    continues = np.zeros(underwater.size, dtype=bool)  # the previous sample is in the same run
    continues[1:] = underwater[:-1] & same_day
    starts = np.flatnonzero(underwater & ~continues)
    if starts.size == 0:
        return starts
    # After a run and before the next, samples are at or above the peak, so above every value of
    # the run: the minimum from one start to the next is the run's own.
    lowest = np.minimum.reduceat(equity, starts)
    span = np.diff(np.append(starts, equity.size))
    at_low = np.flatnonzero(equity[starts[0] :] == np.repeat(lowest, span)) + starts[0]
    run = np.searchsorted(starts, at_low, side="right")
    first = np.ones(at_low.size, dtype=bool)
    first[1:] = run[1:] != run[:-1]
    lows: NDArray[np.intp] = at_low[first]
    return lows
