"""Volatility and channels: True Range, ATR, NATR, Bollinger Bands, Keltner and Donchian."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, NamedTuple

import numpy as np

from ttquant.indicators._base import CloseIndicator, HLCIndicator, HLIndicator
from ttquant.indicators._core import (
    ema_alpha,
    ema_kernel,
    jit,
    rolling_max,
    rolling_min,
    true_range_array,
    wilder_atr_kernel,
)
from ttquant.indicators._validation import (
    FloatArray,
    as_series,
    as_series_group,
    check_period,
    check_positive,
)
from ttquant.indicators.moving_averages import EMA

NAN = math.nan


def _true_range(high: float, low: float, prev_close: float) -> float:
    return max(high - low, abs(prev_close - high), abs(prev_close - low))


# --- True range / ATR / NATR ----------------------------------------------------------------


def trange(high: Any, low: Any, close: Any) -> FloatArray:
    """True range, max(high-low, |high-prev close|, |low-prev close|); first value at index 1
    (TA-Lib TRANGE, which has no value for the first bar)."""
    return true_range_array(*as_series_group("TRANGE", high=high, low=low, close=close))


def atr(high: Any, low: Any, close: Any, period: int = 14) -> FloatArray:
    """Average true range with Wilder smoothing seeded by the mean of the first ``period`` true
    ranges; first value at index ``period`` (TA-Lib ATR, unstable period 0)."""
    period = check_period("ATR", "period", period)
    h, lo, c = as_series_group("ATR", high=high, low=low, close=close)
    return wilder_atr_kernel(true_range_array(h, lo, c), period)


def natr(high: Any, low: Any, close: Any, period: int = 14) -> FloatArray:
    """ATR as a percentage of the close (TA-Lib NATR); 0 where the close is zero."""
    period = check_period("NATR", "period", period)
    h, lo, c = as_series_group("NATR", high=high, low=low, close=close)
    a = wilder_atr_kernel(true_range_array(h, lo, c), period)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c == 0.0, np.where(np.isnan(a), NAN, 0.0), (a / c) * 100.0)


class TRANGE(HLCIndicator):
    """Streaming true range (ready from the second bar)."""

    __slots__ = ("_prev_close",)

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._prev_close = NAN
        self.value = NAN
        self.ready = False

    def update(self, high: float, low: float, close: float) -> float:
        prev = self._prev_close
        self._prev_close = close
        if not math.isnan(prev):  # a previous bar exists
            self.value = _true_range(high, low, prev)
            self.ready = True
        return self.value


class ATR(HLCIndicator):
    """Streaming Wilder ATR."""

    __slots__ = ("_count", "_period", "_prev_close", "_total")

    def __init__(self, period: int = 14) -> None:
        self._period = check_period("ATR", "period", period)
        self.reset()

    def reset(self) -> None:
        self._prev_close = NAN
        self._count = 0
        self._total = 0.0
        self.value = NAN
        self.ready = False

    def update(self, high: float, low: float, close: float) -> float:
        prev = self._prev_close
        self._prev_close = close
        if self.ready:
            value = self.value * (self._period - 1)
            value += _true_range(high, low, prev)
            self.value = value / self._period
            return self.value
        if self._count > 0:
            self._total += _true_range(high, low, prev)
        self._count += 1
        if self._count > self._period:
            self.value = self._total / self._period
            self.ready = True
        return self.value


class NATR(HLCIndicator):
    """Streaming normalized ATR (percent of close)."""

    __slots__ = ("_atr",)

    def __init__(self, period: int = 14) -> None:
        self._atr = ATR(check_period("NATR", "period", period))
        self.reset()

    def reset(self) -> None:
        self._atr.reset()
        self.value = NAN
        self.ready = False

    def update(self, high: float, low: float, close: float) -> float:
        a = self._atr.update(high, low, close)
        if self._atr.ready:
            self.value = (a / close) * 100.0 if close != 0.0 else 0.0
            self.ready = True
        return self.value


# --- Bollinger Bands ------------------------------------------------------------------------


class BandsResult(NamedTuple):
    upper: FloatArray
    middle: FloatArray
    lower: FloatArray


@jit
def rolling_mean_std(x: FloatArray, period: int) -> tuple[FloatArray, FloatArray]:
    """Rolling mean and population standard deviation, O(1) amortised per value.

    The textbook running sums of x and x^2 lose most digits when the dispersion is small next to
    the level (minute BTC prices: ~1e-7 relative), and TA-Lib 0.8 no longer does that. Here the
    sums are of deviations from a shift that is re-centred on the window mean, with the sums
    recomputed from the window, every ``period`` values, so cancellation stays at the scale of the
    window's spread and drift cannot build up. Agrees with exact rational arithmetic to ~1e-12.
    """
    n = len(x)
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    shift = 0.0
    s1 = 0.0
    s2 = 0.0
    left = 0
    for i in range(period - 1, n):
        oldest = i - period + 1
        if left == 0:
            total = 0.0
            for j in range(oldest, i + 1):
                total += x[j]
            shift = total / period
            s1 = 0.0
            s2 = 0.0
            for j in range(oldest, i + 1):
                d = x[j] - shift
                s1 += d
                s2 += d * d
            left = period
        else:
            d = x[i] - shift
            s1 += d
            s2 += d * d
        left -= 1
        m = s1 / period
        mean[i] = shift + m
        var = s2 / period - m * m
        std[i] = math.sqrt(var) if var > 0.0 else 0.0
        d = x[oldest] - shift
        s1 -= d
        s2 -= d * d
    return mean, std


def bbands(
    close: Any, period: int = 5, nbdev_up: float = 2.0, nbdev_down: float = 2.0
) -> BandsResult:
    """Bollinger Bands around the SMA with population standard deviation (TA-Lib BBANDS, SMA)."""
    period = check_period("BBANDS", "period", period, minimum=2)
    up = check_positive("BBANDS", "nbdev_up", nbdev_up)
    down = check_positive("BBANDS", "nbdev_down", nbdev_down)
    mean, std = rolling_mean_std(as_series("BBANDS", "close", close), period)
    return BandsResult(mean + std * up, mean, mean - std * down)


class RollingMeanStd:
    """Streaming counterpart of :func:`rolling_mean_std` (shared by BBANDS, STDDEV, ZSCORE)."""

    __slots__ = ("_buf", "_left", "_period", "_s1", "_s2", "_shift", "mean", "std")

    def __init__(self, period: int) -> None:
        self._period = period
        self.reset()

    def reset(self) -> None:
        self._buf: deque[float] = deque(maxlen=self._period)
        self._shift = self._s1 = self._s2 = 0.0
        self._left = 0
        self.mean = NAN
        self.std = NAN

    def update(self, x: float) -> bool:
        """Add ``x``; return whether ``mean`` and ``std`` are defined."""
        buf = self._buf
        buf.append(x)
        period = self._period
        if len(buf) < period:
            return False
        shift = self._shift
        if self._left == 0:
            shift = self._shift = sum(buf) / period
            s1 = s2 = 0.0
            for value in buf:
                d = value - shift
                s1 += d
                s2 += d * d
            self._left = period
        else:
            d = x - shift
            s1 = self._s1 + d
            s2 = self._s2 + d * d
        self._left -= 1
        m = s1 / period
        self.mean = shift + m
        var = s2 / period - m * m
        self.std = math.sqrt(var) if var > 0.0 else 0.0
        d = buf[0] - shift
        self._s1 = s1 - d
        self._s2 = s2 - d * d
        return True


class BBANDS(CloseIndicator):
    """Streaming Bollinger Bands; ``value`` is the middle band."""

    __slots__ = ("_down", "_stats", "_up", "lower", "middle", "upper")

    def __init__(self, period: int = 5, nbdev_up: float = 2.0, nbdev_down: float = 2.0) -> None:
        self._stats = RollingMeanStd(check_period("BBANDS", "period", period, minimum=2))
        self._up = check_positive("BBANDS", "nbdev_up", nbdev_up)
        self._down = check_positive("BBANDS", "nbdev_down", nbdev_down)
        self.reset()

    def reset(self) -> None:
        self._stats.reset()
        self.value = self.upper = self.middle = self.lower = NAN
        self.ready = False

    def update(self, close: float) -> float:
        stats = self._stats
        if stats.update(close):
            self.value = self.middle = stats.mean
            self.upper = stats.mean + stats.std * self._up
            self.lower = stats.mean - stats.std * self._down
            self.ready = True
        return self.value


# --- Keltner --------------------------------------------------------------------------------


def keltner(
    high: Any,
    low: Any,
    close: Any,
    period: int = 20,
    multiplier: float = 2.0,
    atr_period: int = 10,
) -> BandsResult:
    """Keltner channel: EMA(close, period) +/- multiplier * ATR(atr_period).

    Not in TA-Lib. Convention: the modern (Raschke / TradingView) channel with TA-Lib's EMA and
    Wilder ATR; all three lines start at ``max(period - 1, atr_period)``.
    """
    period = check_period("KELTNER", "period", period)
    atr_period = check_period("KELTNER", "atr_period", atr_period)
    mult = check_positive("KELTNER", "multiplier", multiplier)
    h, lo, c = as_series_group("KELTNER", high=high, low=low, close=close)
    middle = ema_kernel(c, period, 0, ema_alpha(period))
    width = mult * wilder_atr_kernel(true_range_array(h, lo, c), atr_period)
    middle[np.isnan(width)] = NAN
    return BandsResult(middle + width, middle, middle - width)


class Keltner(HLCIndicator):
    """Streaming Keltner channel; ``value`` is the middle line."""

    __slots__ = ("_atr", "_ema", "_mult", "lower", "middle", "upper")

    def __init__(self, period: int = 20, multiplier: float = 2.0, atr_period: int = 10) -> None:
        self._ema = EMA(check_period("KELTNER", "period", period))
        self._atr = ATR(check_period("KELTNER", "atr_period", atr_period))
        self._mult = check_positive("KELTNER", "multiplier", multiplier)
        self.reset()

    def reset(self) -> None:
        self._ema.reset()
        self._atr.reset()
        self.value = self.upper = self.middle = self.lower = NAN
        self.ready = False

    def update(self, high: float, low: float, close: float) -> float:
        middle = self._ema.update(close)
        a = self._atr.update(high, low, close)
        if self._ema.ready and self._atr.ready:
            width = self._mult * a
            self.value = self.middle = middle
            self.upper = middle + width
            self.lower = middle - width
            self.ready = True
        return self.value


# --- Donchian -------------------------------------------------------------------------------


def donchian(high: Any, low: Any, period: int = 20) -> BandsResult:
    """Donchian channel: highest high and lowest low of the last ``period`` bars (current bar
    included) and their midpoint. Not in TA-Lib; first value at ``period - 1``."""
    period = check_period("DONCHIAN", "period", period)
    h, lo = as_series_group("DONCHIAN", high=high, low=low)
    upper = rolling_max(h, period)
    lower = rolling_min(lo, period)
    return BandsResult(upper, (upper + lower) / 2.0, lower)


class Donchian(HLIndicator):
    """Streaming Donchian channel; ``value`` is the middle line."""

    __slots__ = ("_highs", "_lows", "lower", "middle", "upper")

    def __init__(self, period: int = 20) -> None:
        period = check_period("DONCHIAN", "period", period)
        self._highs: deque[float] = deque(maxlen=period)
        self._lows: deque[float] = deque(maxlen=period)
        self.reset()

    def reset(self) -> None:
        self._highs.clear()
        self._lows.clear()
        self.value = self.upper = self.middle = self.lower = NAN
        self.ready = False

    def update(self, high: float, low: float) -> float:
        self._highs.append(high)
        self._lows.append(low)
        if len(self._highs) == self._highs.maxlen:
            self.upper = max(self._highs)
            self.lower = min(self._lows)
            self.value = self.middle = (self.upper + self.lower) / 2.0
            self.ready = True
        return self.value
