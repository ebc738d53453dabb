"""Drawdown episodes of an equity curve at full resolution.

Drawdowns are measured on every sample, not on daily closes, so an intraday crash that recovers
before midnight still counts. An episode starts at the last sample on a running peak and ends at
the first sample back at (or above) that peak, or at the end of the curve if it never recovers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ttquant.analytics.daily import NS_PER_SECOND


@dataclass(frozen=True, slots=True)
class DrawdownSummary:
    """Depths are fractions of the running peak (0.25 == 25 %), durations are seconds."""

    max_depth: float
    avg_depth: float
    max_duration_s: float
    avg_duration_s: float


def summarize_drawdowns(ts_ns: NDArray[np.int64], equity: NDArray[np.float64]) -> DrawdownSummary:
    peak = np.maximum.accumulate(equity)
    # A curve whose peak is not positive has no defined relative drawdown; a fall below zero is
    # capped at a 100 % loss so the depth stays in [0, 1].
    relative = np.divide(equity, peak, out=np.ones_like(equity), where=peak > 0.0)
    depth = np.clip(1.0 - relative, 0.0, 1.0)
    underwater = equity < peak
    edges = np.diff(underwater.view(np.int8))
    starts = np.flatnonzero(edges == 1) + 1  # underwater[0] is False: the first sample is a peak
    if starts.size == 0:
        return DrawdownSummary(0.0, 0.0, 0.0, 0.0)
    recoveries = np.flatnonzero(edges == -1) + 1
    if recoveries.size < starts.size:
        recoveries = np.append(recoveries, ts_ns.size - 1)
    durations = (ts_ns[recoveries] - ts_ns[starts - 1]) / NS_PER_SECOND
    # Between episodes the depth is 0, so the maximum over [start_k, start_k+1) is episode k's.
    depths = np.maximum.reduceat(depth, starts)
    return DrawdownSummary(
        max_depth=float(depth.max()),
        avg_depth=float(depths.mean()),
        max_duration_s=float(durations.max()),
        avg_duration_s=float(durations.mean()),
    )
