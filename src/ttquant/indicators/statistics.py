"""Rolling statistics: standard deviation (TA-Lib STDDEV), z-score, linear-regression slope."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from ttquant.indicators._base import CloseIndicator
from ttquant.indicators._core import jit
from ttquant.indicators._validation import FloatArray, as_series, check_period, check_positive
from ttquant.indicators.volatility import RollingMeanStd, rolling_mean_std

NAN = math.nan


def stddev(close: Any, period: int = 5, nbdev: float = 1.0) -> FloatArray:
    """Rolling population standard deviation times ``nbdev`` (TA-Lib STDDEV); first value at
    ``period - 1``. See :func:`~ttquant.indicators.volatility.rolling_mean_std` for precision."""
    period = check_period("STDDEV", "period", period, minimum=2)
    scale = check_positive("STDDEV", "nbdev", nbdev)
    return rolling_mean_std(as_series("STDDEV", "close", close), period)[1] * scale


class StdDev(CloseIndicator):
    """Streaming rolling population standard deviation."""

    __slots__ = ("_scale", "_stats")

    def __init__(self, period: int = 5, nbdev: float = 1.0) -> None:
        self._stats = RollingMeanStd(check_period("STDDEV", "period", period, minimum=2))
        self._scale = check_positive("STDDEV", "nbdev", nbdev)
        self.reset()

    def reset(self) -> None:
        self._stats.reset()
        self.value = NAN
        self.ready = False

    def update(self, close: float) -> float:
        if self._stats.update(close):
            self.value = self._stats.std * self._scale
            self.ready = True
        return self.value


def _zscore(x: float, mean: float, std: float) -> float:
    return (x - mean) / std if std != 0.0 else 0.0


def zscore(close: Any, period: int = 20) -> FloatArray:
    """(close - rolling mean) / rolling population std over ``period`` bars, current bar included.

    Not in TA-Lib. Convention: population std (ddof=0, like BBANDS) so that
    ``close = middle + z * std`` matches the Bollinger construction; 0 for a constant window.
    """
    period = check_period("ZSCORE", "period", period, minimum=2)
    x = as_series("ZSCORE", "close", close)
    mean, std = rolling_mean_std(x, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std == 0.0, 0.0 * mean, (x - mean) / std)


class ZScore(CloseIndicator):
    """Streaming rolling z-score."""

    __slots__ = ("_stats",)

    def __init__(self, period: int = 20) -> None:
        self._stats = RollingMeanStd(check_period("ZSCORE", "period", period, minimum=2))
        self.reset()

    def reset(self) -> None:
        self._stats.reset()
        self.value = NAN
        self.ready = False

    def update(self, close: float) -> float:
        stats = self._stats
        if stats.update(close):
            self.value = _zscore(close, stats.mean, stats.std)
            self.ready = True
        return self.value


@jit
def _slope(window: FloatArray, period: int) -> float:
    """Least-squares slope per bar, summed as TA-Lib does (x counted back from the newest bar)."""
    sum_x = period * (period - 1) * 0.5
    sum_x_sqr = period * (period - 1) * (2 * period - 1) // 6
    divisor = sum_x * sum_x - period * sum_x_sqr
    sum_xy = 0.0
    sum_y = 0.0
    for k in range(period):
        value = window[k]
        sum_y += value
        sum_xy += (period - 1 - k) * value
    return (period * sum_xy - sum_x * sum_y) / divisor


@jit
def _slope_kernel(x: FloatArray, period: int) -> FloatArray:
    n = len(x)
    out = np.full(n, np.nan)
    for i in range(period - 1, n):
        out[i] = _slope(x[i - period + 1 : i + 1], period)
    return out


def linearreg_slope(close: Any, period: int = 14) -> FloatArray:
    """Slope of the least-squares line through the last ``period`` closes, in price per bar
    (TA-Lib LINEARREG_SLOPE); first value at ``period - 1``."""
    period = check_period("LINEARREG_SLOPE", "period", period, minimum=2)
    return _slope_kernel(as_series("LINEARREG_SLOPE", "close", close), period)


class LinearRegSlope(CloseIndicator):
    """Streaming linear-regression slope; O(period) per update (one numba call on the window),
    which keeps it bit-identical to the vectorized form and free of running-sum drift."""

    __slots__ = ("_buf", "_period", "_window")

    def __init__(self, period: int = 14) -> None:
        self._period = check_period("LINEARREG_SLOPE", "period", period, minimum=2)
        self.reset()

    def reset(self) -> None:
        self._buf: deque[float] = deque(maxlen=self._period)
        self._window = np.empty(self._period)
        self.value = NAN
        self.ready = False

    def update(self, close: float) -> float:
        self._buf.append(close)
        if len(self._buf) == self._period:
            self._window[:] = self._buf
            self.value = float(_slope(self._window, self._period))
            self.ready = True
        return self.value
