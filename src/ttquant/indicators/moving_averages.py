"""Moving averages: SMA, EMA, WMA, DEMA, TEMA, KAMA (TA-Lib conventions) and HMA.

Each average exists as a vectorized function over a whole array (NaN during warm-up) and as a
streaming class fed one value at a time; both give the same numbers bit for bit.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from ttquant.indicators._base import CloseIndicator
from ttquant.indicators._core import (
    ema_alpha,
    ema_kernel,
    jit,
    sma_kernel,
    wma_kernel,
)
from ttquant.indicators._validation import FloatArray, as_series, check_period

NAN = math.nan


# --- SMA ------------------------------------------------------------------------------------


def sma(close: Any, period: int = 30) -> FloatArray:
    """Simple moving average; first value at index ``period - 1`` (TA-Lib SMA).

    The running sum is recomputed from its window every ``period`` values so float drift cannot
    build up over millions of bars (see :class:`SMA`).
    """
    period = check_period("SMA", "period", period)
    return sma_kernel(as_series("SMA", "close", close), period, 0, period)


class SMA(CloseIndicator):
    """Streaming simple moving average, O(1) per update.

    Keeps a ring buffer and a running sum of the newest ``period - 1`` values. Adding and
    subtracting values in a running sum accumulates rounding error without bound over millions of
    updates, so every ``period`` updates the sum is recomputed from the buffer (the vectorized
    :func:`sma` does the same, so both agree bit for bit; TA-Lib differs by ~1e-15 relative).
    """

    __slots__ = ("_buf", "_left", "_partial", "_period")

    def __init__(self, period: int = 30) -> None:
        self._period = check_period("SMA", "period", period)
        self.reset()

    def reset(self) -> None:
        self._buf: deque[float] = deque(maxlen=self._period)
        self._partial = 0.0
        self._left = self._period
        self.value = NAN
        self.ready = False

    def update(self, close: float) -> float:
        buf = self._buf
        buf.append(close)
        total = self._partial + close
        if not self.ready:
            if len(buf) < self._period:
                self._partial = total
                return NAN
            self.ready = True
        value = total / self._period
        self.value = value
        left = self._left - 1
        if left == 0:
            left = self._period
            total = sum(buf)
        self._left = left
        self._partial = total - buf[0]
        return value


# --- EMA ------------------------------------------------------------------------------------


def ema(close: Any, period: int = 30) -> FloatArray:
    """Exponential moving average, alpha = 2/(period+1), seeded with the SMA of the first
    ``period`` values; first value at index ``period - 1`` (TA-Lib EMA)."""
    period = check_period("EMA", "period", period)
    return ema_kernel(as_series("EMA", "close", close), period, 0, ema_alpha(period))


class EMA(CloseIndicator):
    """Streaming EMA, seeded like TA-Lib with the mean of the first ``period`` values."""

    __slots__ = ("_count", "_k", "_period", "_total")

    def __init__(self, period: int = 30) -> None:
        self._period = check_period("EMA", "period", period)
        self._k = ema_alpha(self._period)
        self.reset()

    def reset(self) -> None:
        self._count = 0
        self._total = 0.0
        self.value = NAN
        self.ready = False

    def update(self, close: float) -> float:
        if self.ready:
            prev = self.value
            value = (close - prev) * self._k + prev
            self.value = value
            return value
        self._total += close
        self._count += 1
        if self._count == self._period:
            self.value = self._total / self._period
            self.ready = True
        return self.value


# --- WMA ------------------------------------------------------------------------------------


def wma(close: Any, period: int = 30) -> FloatArray:
    """Linearly weighted moving average (weights 1..period, newest heaviest; TA-Lib WMA)."""
    period = check_period("WMA", "period", period)
    return wma_kernel(as_series("WMA", "close", close), period, 0)


class WMA(CloseIndicator):
    """Streaming WMA with TA-Lib's O(1) update of the weighted sum."""

    __slots__ = ("_buf", "_divider", "_period", "_sub", "_sum", "_trailing")

    def __init__(self, period: int = 30) -> None:
        self._period = check_period("WMA", "period", period)
        self._divider = (self._period * (self._period + 1)) >> 1
        self.reset()

    def reset(self) -> None:
        self._buf: deque[float] = deque(maxlen=self._period)
        self._sub = 0.0
        self._sum = 0.0
        self._trailing = 0.0
        self.value = NAN
        self.ready = False

    def update(self, close: float) -> float:
        buf = self._buf
        buf.append(close)
        if not self.ready and len(buf) < self._period:
            self._sub += close
            self._sum += close * len(buf)
            return NAN
        self._sub += close
        self._sub -= self._trailing
        self._sum += close * self._period
        self._trailing = buf[0]
        self.value = self._sum / self._divider
        self.ready = True
        self._sum -= self._sub
        return self.value


# --- DEMA / TEMA ----------------------------------------------------------------------------


def dema(close: Any, period: int = 30) -> FloatArray:
    """Double EMA, 2*EMA - EMA(EMA); first value at ``2*(period-1)`` (TA-Lib DEMA)."""
    period = check_period("DEMA", "period", period)
    x = as_series("DEMA", "close", close)
    k = ema_alpha(period)
    first = ema_kernel(x, period, 0, k)
    second = ema_kernel(first, period, period - 1, k)
    return (2.0 * first) - second


def tema(close: Any, period: int = 30) -> FloatArray:
    """Triple EMA, 3*EMA - 3*EMA(EMA) + EMA(EMA(EMA)); first value at ``3*(period-1)``."""
    period = check_period("TEMA", "period", period)
    x = as_series("TEMA", "close", close)
    k = ema_alpha(period)
    first = ema_kernel(x, period, 0, k)
    second = ema_kernel(first, period, period - 1, k)
    third = ema_kernel(second, period, 2 * (period - 1), k)
    return third + ((3.0 * first) - (3.0 * second))


class DEMA(CloseIndicator):
    """Streaming DEMA: an EMA fed into a second EMA once the first is ready."""

    __slots__ = ("_first", "_second")

    def __init__(self, period: int = 30) -> None:
        check_period("DEMA", "period", period)
        self._first = EMA(period)
        self._second = EMA(period)
        self.reset()

    def reset(self) -> None:
        self._first.reset()
        self._second.reset()
        self.value = NAN
        self.ready = False

    def update(self, close: float) -> float:
        first = self._first.update(close)
        if self._first.ready:
            second = self._second.update(first)
            if self._second.ready:
                self.value = (2.0 * first) - second
                self.ready = True
        return self.value


class TEMA(CloseIndicator):
    """Streaming TEMA: three chained EMAs."""

    __slots__ = ("_first", "_second", "_third")

    def __init__(self, period: int = 30) -> None:
        check_period("TEMA", "period", period)
        self._first = EMA(period)
        self._second = EMA(period)
        self._third = EMA(period)
        self.reset()

    def reset(self) -> None:
        for stage in (self._first, self._second, self._third):
            stage.reset()
        self.value = NAN
        self.ready = False

    def update(self, close: float) -> float:
        first = self._first.update(close)
        if not self._first.ready:
            return NAN
        second = self._second.update(first)
        if not self._second.ready:
            return NAN
        third = self._third.update(second)
        if self._third.ready:
            self.value = third + ((3.0 * first) - (3.0 * second))
            self.ready = True
        return self.value


# --- KAMA -----------------------------------------------------------------------------------

_KAMA_SLOWEST = 2.0 / (30.0 + 1.0)
_KAMA_DIFF = 2.0 / (2.0 + 1.0) - _KAMA_SLOWEST


@jit
def _kama_step(prev: float, x: float, change: float, volatility: float) -> float:
    """One KAMA step: the smoothing constant moves between 2- and 30-bar EMA speeds."""
    efficiency = 1.0 if volatility <= change or volatility == 0.0 else abs(change / volatility)
    sc = efficiency * _KAMA_DIFF + _KAMA_SLOWEST
    sc *= sc
    return (x - prev) * sc + prev


@jit
def _kama_kernel(x: FloatArray, period: int) -> FloatArray:
    n = len(x)
    out = np.full(n, np.nan)
    if period >= n:
        return out
    volatility = 0.0
    for i in range(period):
        volatility += abs(x[i] - x[i + 1])
    prev = _kama_step(x[period - 1], x[period], x[period] - x[0], volatility)
    out[period] = prev
    for i in range(period + 1, n):
        volatility -= abs(x[i - period - 1] - x[i - period])
        volatility += abs(x[i] - x[i - 1])
        prev = _kama_step(prev, x[i], x[i] - x[i - period], volatility)
        out[i] = prev
    return out


def kama(close: Any, period: int = 30) -> FloatArray:
    """Kaufman adaptive moving average with TA-Lib's fixed 2/30 speeds; first value at ``period``.

    Starts from the previous close, as TA-Lib does; efficiency ratio 1 when the path length is zero.
    """
    period = check_period("KAMA", "period", period)
    return _kama_kernel(as_series("KAMA", "close", close), period)


class KAMA(CloseIndicator):
    """Streaming KAMA keeping the last ``period + 1`` closes and a running path length."""

    __slots__ = ("_buf", "_period", "_volatility")

    def __init__(self, period: int = 30) -> None:
        self._period = check_period("KAMA", "period", period)
        self.reset()

    def reset(self) -> None:
        self._buf: deque[float] = deque(maxlen=self._period + 1)
        self._volatility = 0.0
        self.value = NAN
        self.ready = False

    def update(self, close: float) -> float:
        buf = self._buf
        if self.ready:
            dropped = buf[0]
            buf.append(close)
            self._volatility -= abs(dropped - buf[0])
            self._volatility += abs(close - buf[-2])
            self.value = _kama_step(self.value, close, close - buf[0], self._volatility)
            return self.value
        if buf:
            self._volatility += abs(buf[-1] - close)
        buf.append(close)
        if len(buf) == self._period + 1:
            self.value = _kama_step(buf[-2], close, close - buf[0], self._volatility)
            self.ready = True
        return self.value


# --- HMA ------------------------------------------------------------------------------------


def _hma_periods(period: Any) -> tuple[int, int, int]:
    period = check_period("HMA", "period", period, minimum=2)
    return period, period // 2, math.isqrt(period)


def hma(close: Any, period: int = 16) -> FloatArray:
    """Hull moving average: WMA(2*WMA(x, n//2) - WMA(x, n), floor(sqrt(n))).

    Not in TA-Lib; this is Alan Hull's definition with integer (floor) sub-periods, the most common
    convention. First value at ``n - 1 + floor(sqrt(n)) - 1``.
    """
    n, half, root = _hma_periods(period)
    x = as_series("HMA", "close", close)
    raw = 2.0 * wma_kernel(x, half, 0) - wma_kernel(x, n, 0)
    return wma_kernel(raw, root, n - 1)


class HMA(CloseIndicator):
    """Streaming HMA composed of three streaming WMAs."""

    __slots__ = ("_fast", "_outer", "_slow")

    def __init__(self, period: int = 16) -> None:
        n, half, root = _hma_periods(period)
        self._fast = WMA(half)
        self._slow = WMA(n)
        self._outer = WMA(root)
        self.reset()

    def reset(self) -> None:
        for stage in (self._fast, self._slow, self._outer):
            stage.reset()
        self.value = NAN
        self.ready = False

    def update(self, close: float) -> float:
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        if self._slow.ready:
            self.value = self._outer.update(2.0 * fast - slow)
            self.ready = self._outer.ready
        return self.value
