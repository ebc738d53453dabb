"""Which equity samples a kernel keeps: few, yet every statistic of the full curve.

Kept: the first and last sample, each UTC day's last (daily returns), and per drawdown
episode the last sample on the peak before it, its deepest sample within each day and the
sample that recovers the peak. On them the running peak, every episode's depth and duration,
the peak equity and the daily closes equal the full curve's, so
:func:`ttquant.analytics.statistics.compute_statistics` gives the full curve's results
(the exposure, a share of all samples, is counted by the kernels).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _emit(out_idx: np.ndarray, out_eq: np.ndarray, kept: int, i: int, eq: float) -> int:
    """Keep sample ``i`` unless it is already kept; returns the new count.

    Past the room of ``out_idx`` nothing is written and every call counts, so a count above
    the room tells the caller to run again with more (not how much more).
    """
    room = out_idx.shape[0]
    if kept > room:
        return kept + 1
    if kept > 0 and out_idx[kept - 1] >= i:
        return kept
    if kept < room:
        out_idx[kept] = i
        out_eq[kept] = eq
    return kept + 1


@njit(cache=True, inline="always")
def quiet_sample(
    full_curve: bool,
    i: int,
    equity: float,
    closes_day: bool,
    peak: float,
    underwater: bool,
    low_i: int,
    low_eq: float,
) -> tuple[bool, float, int, float]:
    """Most bars keep nothing: at a new peak, or inside a drawdown without recovering.

    For those, returns ``(True, peak, low_i, low_eq)`` updated as :func:`keep_sample` would;
    otherwise ``(False, ...)`` unchanged, and the caller calls :func:`keep_sample`. It touches
    no array: numba reference-counts arrays passed to a function, even an inlined one, and
    that would cost more than the rest of a lean kernel's bar.
    """
    if full_curve or i == 0 or closes_day:
        return False, peak, low_i, low_eq
    if not underwater:
        if equity >= peak:
            return True, equity, low_i, low_eq
    elif equity < peak:
        if low_i < 0 or equity < low_eq:
            return True, peak, i, equity
        return True, peak, low_i, low_eq
    return False, peak, low_i, low_eq


@njit(cache=True)
def keep_sample(
    out_idx: np.ndarray,
    out_eq: np.ndarray,
    full_curve: bool,
    i: int,
    equity: float,
    prev_equity: float,
    closes_day: bool,
    kept: int,
    peak: float,
    underwater: bool,
    low_i: int,
    low_eq: float,
) -> tuple[int, float, bool, int, float]:
    """Record bar ``i``'s ``equity`` if it is to be kept (or every bar's for a full curve).

    ``closes_day``: the bar is its UTC day's last or the run's last. The state, threaded from
    bar to bar and returned updated, is ``(kept, peak, underwater, low_i, low_eq)``; start with
    ``(0, 0.0, False, -1, 0.0)``. Call it for the bars :func:`quiet_sample` leaves.
    """
    if full_curve:
        return _emit(out_idx, out_eq, kept, i, equity), peak, underwater, low_i, low_eq
    if i == 0:
        peak = equity
        kept = _emit(out_idx, out_eq, kept, 0, equity)
    elif equity >= peak:
        if underwater:  # recovered: the episode's pending minimum, then this sample
            if low_i >= 0:
                kept = _emit(out_idx, out_eq, kept, low_i, low_eq)
            low_i = -1
            underwater = False
            kept = _emit(out_idx, out_eq, kept, i, equity)
        peak = equity
    elif not underwater:  # a drawdown starts: the last sample on the peak
        kept = _emit(out_idx, out_eq, kept, i - 1, prev_equity)
        underwater = True
        low_i = i
        low_eq = equity
    elif low_i < 0 or equity < low_eq:
        low_i = i
        low_eq = equity
    if closes_day:
        if low_i >= 0 and low_i != i:
            kept = _emit(out_idx, out_eq, kept, low_i, low_eq)
        low_i = -1
        kept = _emit(out_idx, out_eq, kept, i, equity)
    return kept, peak, underwater, low_i, low_eq
