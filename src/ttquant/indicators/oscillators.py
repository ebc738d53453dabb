"""Oscillators: RSI, MACD, Stochastic (slow, fast, RSI), CCI, Williams %R, ROC, Momentum.

All follow TA-Lib exactly, including its convention for degenerate windows: a zero denominator
yields 0 rather than NaN.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, NamedTuple

import numpy as np

from ttquant.core.errors import ConfigError
from ttquant.indicators._base import CloseIndicator, HLCIndicator
from ttquant.indicators._core import (
    ema_alpha,
    ema_kernel,
    jit,
    nan_array,
    rolling_max,
    rolling_min,
    sma_kernel,
)
from ttquant.indicators._validation import FloatArray, as_series, as_series_group, check_period
from ttquant.indicators.moving_averages import EMA, SMA

NAN = math.nan


# --- RSI ------------------------------------------------------------------------------------


@jit
def _rsi_kernel(x: FloatArray, period: int) -> FloatArray:
    n = len(x)
    out = np.full(n, np.nan)
    if period >= n:
        return out
    gain = 0.0
    loss = 0.0
    for i in range(1, period + 1):
        diff = x[i] - x[i - 1]
        if diff < 0:
            loss -= diff
        else:
            gain += diff
    loss /= period
    gain /= period
    total = gain + loss
    out[period] = 100.0 * (gain / total) if total != 0.0 else 0.0
    for i in range(period + 1, n):
        diff = x[i] - x[i - 1]
        loss *= period - 1
        gain *= period - 1
        if diff < 0:
            loss -= diff
        else:
            gain += diff
        loss /= period
        gain /= period
        total = gain + loss
        out[i] = 100.0 * (gain / total) if total != 0.0 else 0.0
    return out


def rsi(close: Any, period: int = 14) -> FloatArray:
    """Wilder's RSI (TA-Lib, unstable period 0): first value at index ``period``, seeded with
    the plain mean gain/loss of the first ``period`` changes; 0 when there was no change at all."""
    period = check_period("RSI", "period", period)
    return _rsi_kernel(as_series("RSI", "close", close), period)


class RSI(CloseIndicator):
    """Streaming Wilder RSI."""

    __slots__ = ("_count", "_gain", "_loss", "_period", "_prev")

    def __init__(self, period: int = 14) -> None:
        self._period = check_period("RSI", "period", period)
        self.reset()

    def reset(self) -> None:
        self._count = 0
        self._gain = 0.0
        self._loss = 0.0
        self._prev = NAN
        self.value = NAN
        self.ready = False

    def update(self, close: float) -> float:
        diff = close - self._prev
        self._prev = close
        period = self._period
        if self.ready:
            self._loss *= period - 1
            self._gain *= period - 1
        else:
            self._count += 1
            if self._count == 1:
                return NAN
        if diff < 0:
            self._loss -= diff
        else:
            self._gain += diff
        if not self.ready:
            if self._count <= period:
                return NAN
            self.ready = True
        self._loss /= period
        self._gain /= period
        total = self._gain + self._loss
        self.value = 100.0 * (self._gain / total) if total != 0.0 else 0.0
        return self.value


# --- MACD -----------------------------------------------------------------------------------


class MACDResult(NamedTuple):
    macd: FloatArray
    signal: FloatArray
    hist: FloatArray


def _macd_periods(fast: Any, slow: Any, signal: Any) -> tuple[int, int, int]:
    fast = check_period("MACD", "fast_period", fast, minimum=2)
    slow = check_period("MACD", "slow_period", slow, minimum=2)
    signal = check_period("MACD", "signal_period", signal)
    if fast >= slow:
        raise ConfigError(
            f"MACD: parameter 'fast_period' ({fast}) must be smaller than 'slow_period' ({slow})"
        )
    return fast, slow, signal


def macd(
    close: Any, fast_period: int = 12, slow_period: int = 26, signal_period: int = 9
) -> MACDResult:
    """MACD line, signal and histogram exactly as TA-Lib computes them.

    TA-Lib seeds the fast EMA with the mean of the ``fast_period`` closes ending where the slow EMA
    starts (index ``slow_period - 1``), not with the first ``fast_period`` closes, and reports all
    three lines from index ``slow_period + signal_period - 2``.
    """
    fast, slow, sig = _macd_periods(fast_period, slow_period, signal_period)
    x = as_series("MACD", "close", close)
    line = ema_kernel(x, fast, slow - fast, ema_alpha(fast)) - ema_kernel(
        x, slow, 0, ema_alpha(slow)
    )
    signal = ema_kernel(line, sig, slow - 1, ema_alpha(sig))
    line[: slow + sig - 2] = np.nan
    return MACDResult(line, signal, line - signal)


class MACD(CloseIndicator):
    """Streaming MACD; ``value`` is the MACD line, ``signal`` and ``hist`` the other two."""

    __slots__ = (
        "_fast",
        "_fast_k",
        "_fast_period",
        "_seed",
        "_signal",
        "_slow",
        "hist",
        "macd",
        "signal",
    )

    def __init__(
        self, fast_period: int = 12, slow_period: int = 26, signal_period: int = 9
    ) -> None:
        self._fast_period, slow, sig = _macd_periods(fast_period, slow_period, signal_period)
        self._fast_k = ema_alpha(self._fast_period)
        self._slow = EMA(slow)
        self._signal = EMA(sig)
        self.reset()

    def reset(self) -> None:
        self._slow.reset()
        self._signal.reset()
        self._seed: deque[float] = deque(maxlen=self._fast_period)
        self._fast = NAN
        self.value = self.macd = self.signal = self.hist = NAN
        self.ready = False

    def update(self, close: float) -> float:
        slow = self._slow.update(close)
        if self._slow.ready:
            if self._seed:
                self._seed.append(close)
                self._fast = sum(self._seed) / self._fast_period
                self._seed.clear()
            else:
                self._fast = (close - self._fast) * self._fast_k + self._fast
        else:
            self._seed.append(close)
            return NAN
        line = self._fast - slow
        signal = self._signal.update(line)
        if self._signal.ready:
            self.value = self.macd = line
            self.signal = signal
            self.hist = line - signal
            self.ready = True
        return self.value


# --- Stochastics ----------------------------------------------------------------------------


class StochResult(NamedTuple):
    slowk: FloatArray
    slowd: FloatArray


class StochFResult(NamedTuple):
    fastk: FloatArray
    fastd: FloatArray


def _fast_k_array(high: FloatArray, low: FloatArray, close: FloatArray, period: int) -> FloatArray:
    highest = rolling_max(high, period)
    lowest = rolling_min(low, period)
    diff = (highest - lowest) / 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(diff != 0.0, (close - lowest) / diff, np.where(np.isnan(diff), NAN, 0.0))


def _fast_k(highest: float, lowest: float, close: float) -> float:
    diff = (highest - lowest) / 100.0
    return (close - lowest) / diff if diff != 0.0 else 0.0


def stoch(
    high: Any,
    low: Any,
    close: Any,
    fastk_period: int = 5,
    slowk_period: int = 3,
    slowd_period: int = 3,
) -> StochResult:
    """Slow stochastic (TA-Lib STOCH with SMA smoothing, its default matype 0).

    %K is 0 when the window's range is zero. Both lines start at
    ``fastk_period + slowk_period + slowd_period - 3``.
    """
    fk = check_period("STOCH", "fastk_period", fastk_period)
    sk = check_period("STOCH", "slowk_period", slowk_period)
    sd = check_period("STOCH", "slowd_period", slowd_period)
    h, lo, c = as_series_group("STOCH", high=high, low=low, close=close)
    slowk = sma_kernel(_fast_k_array(h, lo, c, fk), sk, fk - 1, sk)
    slowd = sma_kernel(slowk, sd, fk + sk - 2, sd)
    slowk[: fk + sk + sd - 3] = NAN
    return StochResult(slowk, slowd)


def stochf(
    high: Any, low: Any, close: Any, fastk_period: int = 5, fastd_period: int = 3
) -> StochFResult:
    """Fast stochastic (TA-Lib STOCHF, SMA %D); both lines start at
    ``fastk_period + fastd_period - 2``."""
    fk = check_period("STOCHF", "fastk_period", fastk_period)
    fd = check_period("STOCHF", "fastd_period", fastd_period)
    h, lo, c = as_series_group("STOCHF", high=high, low=low, close=close)
    fastk = _fast_k_array(h, lo, c, fk)
    fastd = sma_kernel(fastk, fd, fk - 1, fd)
    fastk[: fk + fd - 2] = NAN
    return StochFResult(fastk, fastd)


def stochrsi(
    close: Any, period: int = 14, fastk_period: int = 5, fastd_period: int = 3
) -> StochFResult:
    """Stochastic RSI: TA-Lib STOCHF applied to RSI(period) as high, low and close."""
    period = check_period("STOCHRSI", "period", period)
    fk = check_period("STOCHRSI", "fastk_period", fastk_period)
    fd = check_period("STOCHRSI", "fastd_period", fastd_period)
    r = _rsi_kernel(as_series("STOCHRSI", "close", close), period)
    valid = r[period:]
    fastk = nan_array(len(r))
    fastd = nan_array(len(r))
    if len(valid):
        fastk[period:], fastd[period:] = stochf(valid, valid, valid, fk, fd)
    return StochFResult(fastk, fastd)


class _FastK:
    """Streaming raw %K over a window of highs and lows (not an indicator on its own)."""

    __slots__ = ("_highs", "_lows")

    def __init__(self, period: int) -> None:
        self._highs: deque[float] = deque(maxlen=period)
        self._lows: deque[float] = deque(maxlen=period)

    def update(self, high: float, low: float, close: float) -> float:
        self._highs.append(high)
        self._lows.append(low)
        if len(self._highs) < (self._highs.maxlen or 0):
            return NAN
        return _fast_k(max(self._highs), min(self._lows), close)

    def reset(self) -> None:
        self._highs.clear()
        self._lows.clear()


class STOCHF(HLCIndicator):
    """Streaming fast stochastic; ``value`` is %K (``fastk``), ``fastd`` its SMA."""

    __slots__ = ("_fastd", "_fastk", "fastd", "fastk")

    def __init__(self, fastk_period: int = 5, fastd_period: int = 3) -> None:
        self._fastk = _FastK(check_period("STOCHF", "fastk_period", fastk_period))
        self._fastd = SMA(check_period("STOCHF", "fastd_period", fastd_period))
        self.reset()

    def reset(self) -> None:
        self._fastk.reset()
        self._fastd.reset()
        self.value = self.fastk = self.fastd = NAN
        self.ready = False

    def update(self, high: float, low: float, close: float) -> float:
        fastk = self._fastk.update(high, low, close)
        if math.isnan(fastk):
            return NAN
        fastd = self._fastd.update(fastk)
        if self._fastd.ready:
            self.value = self.fastk = fastk
            self.fastd = fastd
            self.ready = True
        return self.value


class STOCH(HLCIndicator):
    """Streaming slow stochastic; ``value`` is %K (``slowk``), ``slowd`` the signal line.

    The slow %K is the fast stochastic's %D, so it is built on :class:`STOCHF`.
    """

    __slots__ = ("_fast", "_slowd", "slowd", "slowk")

    def __init__(self, fastk_period: int = 5, slowk_period: int = 3, slowd_period: int = 3) -> None:
        self._fast = STOCHF(
            check_period("STOCH", "fastk_period", fastk_period),
            check_period("STOCH", "slowk_period", slowk_period),
        )
        self._slowd = SMA(check_period("STOCH", "slowd_period", slowd_period))
        self.reset()

    def reset(self) -> None:
        self._fast.reset()
        self._slowd.reset()
        self.value = self.slowk = self.slowd = NAN
        self.ready = False

    def update(self, high: float, low: float, close: float) -> float:
        self._fast.update(high, low, close)
        if self._fast.ready:
            slowk = self._fast.fastd
            slowd = self._slowd.update(slowk)
            if self._slowd.ready:
                self.value = self.slowk = slowk
                self.slowd = slowd
                self.ready = True
        return self.value


class STOCHRSI(CloseIndicator):
    """Streaming stochastic RSI; ``value`` is ``fastk``, ``fastd`` its SMA."""

    __slots__ = ("_rsi", "_stoch", "fastd", "fastk")

    def __init__(self, period: int = 14, fastk_period: int = 5, fastd_period: int = 3) -> None:
        self._rsi = RSI(check_period("STOCHRSI", "period", period))
        self._stoch = STOCHF(
            check_period("STOCHRSI", "fastk_period", fastk_period),
            check_period("STOCHRSI", "fastd_period", fastd_period),
        )
        self.reset()

    def reset(self) -> None:
        self._rsi.reset()
        self._stoch.reset()
        self.value = self.fastk = self.fastd = NAN
        self.ready = False

    def update(self, close: float) -> float:
        r = self._rsi.update(close)
        if self._rsi.ready:
            self._stoch.update(r, r, r)
            if self._stoch.ready:
                self.value = self.fastk = self._stoch.fastk
                self.fastd = self._stoch.fastd
                self.ready = True
        return self.value


# --- CCI ------------------------------------------------------------------------------------


@jit
def _cci_kernel(high: FloatArray, low: FloatArray, close: FloatArray, period: int) -> FloatArray:
    n = len(close)
    out = np.full(n, np.nan)
    ring = np.zeros(period)
    for i in range(n):
        last = (high[i] + low[i] + close[i]) / 3
        ring[i % period] = last
        if i < period - 1:
            continue
        out[i] = _cci_value(ring, last, period)
    return out


@jit
def _cci_value(ring: FloatArray, last: float, period: int) -> float:
    """CCI from a ring buffer summed in slot order (TA-Lib's order, which affects the last bits)."""
    average = 0.0
    for j in range(period):
        average += ring[j]
    average /= period
    deviation = 0.0
    for j in range(period):
        deviation += abs(ring[j] - average)
    distance = last - average
    if distance != 0.0 and deviation != 0.0:
        return distance / (0.015 * (deviation / period))
    return 0.0


def cci(high: Any, low: Any, close: Any, period: int = 14) -> FloatArray:
    """Commodity Channel Index on the typical price (TA-Lib CCI); first value at ``period - 1``."""
    period = check_period("CCI", "period", period)
    h, lo, c = as_series_group("CCI", high=high, low=low, close=close)
    return _cci_kernel(h, lo, c, period)


class CCI(HLCIndicator):
    """Streaming CCI; O(period) per update since the mean deviation needs the whole window."""

    __slots__ = ("_count", "_period", "_ring")

    def __init__(self, period: int = 14) -> None:
        self._period = check_period("CCI", "period", period)
        self.reset()

    def reset(self) -> None:
        self._ring = np.zeros(self._period)
        self._count = 0
        self.value = NAN
        self.ready = False

    def update(self, high: float, low: float, close: float) -> float:
        last = (high + low + close) / 3
        self._ring[self._count % self._period] = last
        self._count += 1
        if self._count >= self._period:
            self.value = float(_cci_value(self._ring, last, self._period))
            self.ready = True
        return self.value


# --- Williams %R ----------------------------------------------------------------------------


def willr(high: Any, low: Any, close: Any, period: int = 14) -> FloatArray:
    """Williams %R in [-100, 0] (TA-Lib WILLR); 0 when the window's range is zero."""
    period = check_period("WILLR", "period", period)
    h, lo, c = as_series_group("WILLR", high=high, low=low, close=close)
    highest = rolling_max(h, period)
    diff = (highest - rolling_min(lo, period)) / -100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(diff != 0.0, (highest - c) / diff, np.where(np.isnan(diff), NAN, 0.0))


class WILLR(HLCIndicator):
    """Streaming Williams %R."""

    __slots__ = ("_highs", "_lows")

    def __init__(self, period: int = 14) -> None:
        period = check_period("WILLR", "period", period)
        self._highs: deque[float] = deque(maxlen=period)
        self._lows: deque[float] = deque(maxlen=period)
        self.reset()

    def reset(self) -> None:
        self._highs.clear()
        self._lows.clear()
        self.value = NAN
        self.ready = False

    def update(self, high: float, low: float, close: float) -> float:
        self._highs.append(high)
        self._lows.append(low)
        if len(self._highs) == self._highs.maxlen:
            highest = max(self._highs)
            diff = (highest - min(self._lows)) / -100.0
            self.value = (highest - close) / diff if diff != 0.0 else 0.0
            self.ready = True
        return self.value


# --- ROC / Momentum -------------------------------------------------------------------------


def roc(close: Any, period: int = 10) -> FloatArray:
    """Rate of change in percent, (x/x[-period] - 1)*100 (TA-Lib ROC); 0 if the old value is 0."""
    period = check_period("ROC", "period", period)
    x = as_series("ROC", "close", close)
    out = nan_array(len(x))
    old = x[:-period]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[period:] = np.where(old != 0.0, ((x[period:] / old) - 1.0) * 100.0, 0.0)
    return out


def mom(close: Any, period: int = 10) -> FloatArray:
    """Momentum, x - x[-period] (TA-Lib MOM)."""
    period = check_period("MOM", "period", period)
    x = as_series("MOM", "close", close)
    out = nan_array(len(x))
    out[period:] = x[period:] - x[:-period]
    return out


class _Lagged(CloseIndicator):
    """Base of indicators comparing a close with the close ``period`` bars earlier."""

    __slots__ = ("_buf",)

    def __init__(self, period: int) -> None:
        self._buf: deque[float] = deque(maxlen=period + 1)
        self.reset()

    def reset(self) -> None:
        self._buf.clear()
        self.value = NAN
        self.ready = False

    def update(self, close: float) -> float:
        self._buf.append(close)
        if len(self._buf) == self._buf.maxlen:
            self.value = self._compare(close, self._buf[0])
            self.ready = True
        return self.value

    @staticmethod
    def _compare(close: float, old: float) -> float:
        raise NotImplementedError


class ROC(_Lagged):
    """Streaming rate of change in percent."""

    __slots__ = ()

    def __init__(self, period: int = 10) -> None:
        super().__init__(check_period("ROC", "period", period))

    @staticmethod
    def _compare(close: float, old: float) -> float:
        return ((close / old) - 1.0) * 100.0 if old != 0.0 else 0.0


class MOM(_Lagged):
    """Streaming momentum."""

    __slots__ = ()

    def __init__(self, period: int = 10) -> None:
        super().__init__(check_period("MOM", "period", period))

    @staticmethod
    def _compare(close: float, old: float) -> float:
        return close - old
