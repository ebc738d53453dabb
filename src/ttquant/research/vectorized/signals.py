"""What a column wants at a bar's close: signal flags, target positions, or the MA cross.

The moving averages of the MA cross are advanced here one bar at a time inside the portfolio
loop, with the arithmetic of :func:`ttquant.indicators.sma` / :func:`~ttquant.indicators.ema`
(and so of the streaming ``SMA`` / ``EMA`` an event-driven ``MACross`` uses), operation for
operation: the simple average's running sum is rebuilt from its window every ``period`` values
exactly when theirs is, so the fused cross equals the strategy's bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ttquant.research.vectorized.layout import (
    A_MULT,
    A_SIZE_INC,
    A_SIZE_SCALE,
    A_SIZE_UNITS,
    LONG_ENTRY,
    LONG_EXIT,
    LONG_ONLY,
    MA_SIMPLE,
    MODE_TARGETS,
    SHORT_ENTRY,
    SHORT_EXIT,
    SHORT_ONLY,
    SIZE_AMOUNT,
    SIZE_PERCENT,
)
from ttquant.research.vectorized.rounding import round_quantity
from ttquant.strategy.library.ma_cross import TIE


@njit(cache=True, inline="always")
def ma_step(
    close: np.ndarray, i: int, a: int, kind: int, period: int, acc: float, left: int
) -> tuple[float, float, int]:
    """Advance a moving average of ``close[:, a]`` to bar ``i``: ``(value, acc, left)``.

    Start with ``acc = 0.0, left = period`` and call for every bar in order; the value is NaN
    during the warm-up. Simple: ``acc`` is the running sum of the newest ``period - 1`` values,
    ``left`` the outputs until it is rebuilt from the window. Exponential (seeded with the mean
    of the first ``period`` values): ``acc`` is the sum, then the previous average.
    """
    x = close[i, a]
    if i < period - 1:
        return math.nan, acc + x, left
    if kind == MA_SIMPLE:
        total = acc + x
        value = total / period
        oldest = i - period + 1
        left -= 1
        if left == 0:
            left = period
            window = 0.0
            for j in range(oldest, i + 1):
                window += close[j, a]
            acc = window - close[oldest, a]
        else:
            acc = total - close[oldest, a]
        return value, acc, left
    if i == period - 1:
        return (acc + x) / period, (acc + x) / period, left
    value = (x - acc) * (2.0 / (period + 1)) + acc
    return value, value, left


@njit(cache=True, inline="always")
def ma_cross_flags(prev_diff: float, fast: float, slow: float) -> tuple[int, float]:
    """``MACross.on_bar``'s decision as signal flags, and the new previous difference.

    A cross up (fast strictly below slow before, beyond the 1e-12 relative tie now) enters
    long and exits short; a cross down the opposite.
    """
    diff = fast - slow
    tie = TIE * abs(slow)
    new_prev = 0.0 if -tie <= diff <= tie else diff
    if prev_diff < 0.0 and diff > tie:
        return LONG_ENTRY | SHORT_EXIT, new_prev
    if prev_diff > 0.0 and diff < -tie:
        return LONG_EXIT | SHORT_ENTRY, new_prev
    return 0, new_prev


@njit(cache=True, inline="always")
def _target_quantity(
    kind: int, amount: float, equity: float, close: float, spec: np.ndarray, a: int
) -> float:
    """A signed target position in units from a size given as ``kind``."""
    if kind == SIZE_AMOUNT:
        return amount
    value = amount * equity if kind == SIZE_PERCENT else amount
    qty = round_quantity(abs(value) / (close * spec[a, A_MULT]), spec[a, A_SIZE_INC],
                         spec[a, A_SIZE_UNITS], spec[a, A_SIZE_SCALE])  # fmt: skip
    return math.copysign(qty, value)


@njit(cache=True, inline="always")
def _signal_target(flags: int, direction: int, q: float, size: float) -> float:
    """The target position after entry/exit flags, or NaN when nothing changes."""
    if direction == LONG_ONLY:
        flags &= ~SHORT_ENTRY
    elif direction == SHORT_ONLY:
        flags &= ~LONG_ENTRY
    target = q
    if q > 0 and (flags & LONG_EXIT) != 0:
        target = 0.0
    if q < 0 and (flags & SHORT_EXIT) != 0:
        target = 0.0
    long_entry = (flags & LONG_ENTRY) != 0
    short_entry = (flags & SHORT_ENTRY) != 0
    if long_entry and not short_entry and target <= 0:
        target = size
    elif short_entry and not long_entry and target >= 0:
        target = -size
    return math.nan if target == q else target


@njit(cache=True, inline="always")
def target_position(
    mode: int,
    size_kind: int,
    flags: int,
    wanted: float,
    direction: int,
    size: float,
    q: float,
    equity: float,
    close: float,
    spec: np.ndarray,
    a: int,
) -> float:
    """The signed position a column wants after this bar's ``flags`` (signal and MA-cross
    modes) or ``wanted`` target (target mode), in units; NaN when it wants no order."""
    if mode == MODE_TARGETS:
        if math.isnan(wanted):
            return math.nan
        return _target_quantity(size_kind, wanted, equity, close, spec, a)
    if flags == 0:
        return math.nan
    target = _signal_target(flags, direction, q, size)
    if math.isnan(target) or target == 0.0:
        return target
    return _target_quantity(size_kind, target, equity, close, spec, a)
