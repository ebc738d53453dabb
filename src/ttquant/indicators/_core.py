"""Numba kernels shared by several indicator families.

Every kernel repeats TA-Lib's floating-point operations in TA-Lib's order (running sums updated
as "add the new value, emit, subtract the oldest"; seeds summed from 0.0 left to right). That
keeps results within a few ulps of TA-Lib (its published binary fuses some multiply-adds, so
exact bit equality is not attainable) and, more usefully, makes the streaming classes, which
repeat the same operations, agree with the vectorized functions bit for bit. Degenerate
denominators are tested against exact zero, as TA-Lib 0.8 does (older TA-Lib used 1e-8, which
silently zeroed indicators of low-priced assets).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

from ttquant.indicators._validation import FloatArray

_F = TypeVar("_F", bound=Callable[..., Any])
_PENDING: list[Callable[..., Any]] = []  # trampolines not yet swapped for numba dispatchers


def jit(func: _F) -> _F:
    """``numba.njit(cache=True)``, deferred until a kernel is first called.

    Importing numba takes most of a second; the streaming indicators that event-driven runs use
    never need it. The returned trampoline compiles every registered kernel on first use and
    puts the numba dispatchers in place of the trampolines in every ttquant module's globals,
    so kernels calling kernels see dispatchers, as numba requires.
    """

    @functools.wraps(func)
    def trampoline(*args: Any) -> Any:
        _materialize()
        return trampoline.dispatcher(*args)  # type: ignore[attr-defined]

    trampoline.py_func = func  # type: ignore[attr-defined]
    _PENDING.append(trampoline)
    return cast(_F, trampoline)


def _materialize() -> None:
    if not _PENDING:
        return
    import numba

    swaps = {}
    for trampoline in _PENDING:
        dispatcher = numba.njit(cache=True)(trampoline.py_func)  # type: ignore[attr-defined]
        trampoline.dispatcher = dispatcher  # type: ignore[attr-defined]
        swaps[id(trampoline)] = dispatcher
    _PENDING.clear()
    for name, module in list(sys.modules.items()):
        if name.startswith("ttquant.") and module is not None:
            namespace = vars(module)
            for key, value in list(namespace.items()):
                if id(value) in swaps and callable(value):
                    namespace[key] = swaps[id(value)]


def nan_array(n: int) -> FloatArray:
    return np.full(n, np.nan)


@jit
def sma_kernel(x: FloatArray, period: int, first: int, resync_every: int) -> FloatArray:
    """Running-sum mean of ``x[first:]``; the first output is at ``first + period - 1``.

    Every ``resync_every`` outputs the running sum is recomputed from the window, so rounding
    drift of the add/subtract updates cannot build up over millions of values.
    """
    n = len(x)
    out = np.full(n, np.nan)
    start = first + period - 1
    partial = 0.0
    for i in range(first, min(start, n)):
        partial += x[i]
    left = resync_every
    for i in range(start, n):
        total = partial + x[i]
        out[i] = total / period
        oldest = i - period + 1
        left -= 1
        if left == 0:
            left = resync_every
            window = 0.0
            for j in range(oldest, i + 1):
                window += x[j]
            partial = window - x[oldest]
        else:
            partial = total - x[oldest]
    return out


@jit
def ema_kernel(x: FloatArray, period: int, first: int, k: float) -> FloatArray:
    """EMA of ``x[first:]`` seeded with the mean of its first ``period`` values (TA-Lib)."""
    n = len(x)
    out = np.full(n, np.nan)
    start = first + period - 1
    if start >= n:
        return out
    total = 0.0
    for i in range(first, start + 1):
        total += x[i]
    prev = total / period
    out[start] = prev
    for i in range(start + 1, n):
        prev = (x[i] - prev) * k + prev
        out[i] = prev
    return out


@jit
def wma_kernel(x: FloatArray, period: int, first: int) -> FloatArray:
    """Linearly weighted mean (weights 1..period, newest heaviest) of ``x[first:]``."""
    n = len(x)
    out = np.full(n, np.nan)
    start = first + period - 1
    divider = (period * (period + 1)) >> 1
    period_sub = 0.0
    period_sum = 0.0
    weight = 1
    for i in range(first, min(start, n)):
        period_sub += x[i]
        period_sum += x[i] * weight
        weight += 1
    trailing = 0.0
    for i in range(start, n):
        value = x[i]
        period_sub += value
        period_sub -= trailing
        period_sum += value * period
        trailing = x[i - period + 1]
        out[i] = period_sum / divider
        period_sum -= period_sub
    return out


@jit
def rolling_max(x: FloatArray, period: int) -> FloatArray:
    n = len(x)
    out = np.full(n, np.nan)
    for i in range(period - 1, n):
        best = x[i - period + 1]
        for j in range(i - period + 2, i + 1):
            best = max(best, x[j])
        out[i] = best
    return out


@jit
def rolling_min(x: FloatArray, period: int) -> FloatArray:
    n = len(x)
    out = np.full(n, np.nan)
    for i in range(period - 1, n):
        best = x[i - period + 1]
        for j in range(i - period + 2, i + 1):
            best = min(best, x[j])
        out[i] = best
    return out


@jit
def true_range_array(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """TA-Lib TRANGE: max(high-low, |high-prev close|, |low-prev close|); NaN at index 0."""
    n = len(close)
    out = np.full(n, np.nan)
    for i in range(1, n):
        prev = close[i - 1]
        out[i] = max(high[i] - low[i], abs(prev - high[i]), abs(prev - low[i]))
    return out


@jit
def wilder_atr_kernel(tr: FloatArray, period: int) -> FloatArray:
    """TA-Lib ATR from a true-range array (valid from index 1): SMA seed, then Wilder smoothing."""
    n = len(tr)
    out = np.full(n, np.nan)
    if period >= n:
        return out
    total = 0.0
    for i in range(1, period + 1):
        total += tr[i]
    prev = total / period
    out[period] = prev
    for i in range(period + 1, n):
        prev *= period - 1
        prev += tr[i]
        prev /= period
        out[i] = prev
    return out


def ema_alpha(period: int) -> float:
    """TA-Lib's PER_TO_K: the EMA weight of the newest value."""
    return 2.0 / (period + 1)
