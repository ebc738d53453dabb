"""Trend indicators: ADX/+DI/-DI, Parabolic SAR, Aroon (TA-Lib), Supertrend and Ichimoku."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, NamedTuple

import numpy as np

from ttquant.indicators._base import HLCIndicator, HLIndicator
from ttquant.indicators._core import (
    jit,
    rolling_max,
    rolling_min,
    true_range_array,
    wilder_atr_kernel,
)
from ttquant.indicators._validation import (
    FloatArray,
    as_series_group,
    check_period,
    check_positive,
)
from ttquant.indicators.volatility import ATR

NAN = math.nan


# --- Directional movement (ADX, +DI, -DI) ---------------------------------------------------


@jit
def _directional_move(up: float, down: float) -> tuple[float, float]:
    """(+DM, -DM) of one bar from the high's rise ``up`` and the low's fall ``down``."""
    if down > 0 and up < down:
        return 0.0, down
    if up > 0 and up > down:
        return up, 0.0
    return 0.0, 0.0


@jit
def _di(dm: float, tr: float) -> float:
    return 100.0 * (dm / tr) if tr != 0.0 else 0.0


@jit
def _dmi_kernel(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """+DI and -DI from index ``period``, ADX from ``2*period - 1`` (TA-Lib's recurrences)."""
    n = len(close)
    plus = np.full(n, np.nan)
    minus = np.full(n, np.nan)
    adx = np.full(n, np.nan)
    plus_dm = 0.0
    minus_dm = 0.0
    tr = 0.0
    dx_sum = 0.0
    prev_adx = 0.0
    for i in range(1, n):
        p_move, m_move = _directional_move(high[i] - high[i - 1], low[i - 1] - low[i])
        prev_close = close[i - 1]
        bar_tr = max(high[i] - low[i], abs(high[i] - prev_close), abs(low[i] - prev_close))
        if i < period:
            plus_dm += p_move
            minus_dm += m_move
            tr += bar_tr
            continue
        plus_dm = plus_dm - plus_dm / period + p_move
        minus_dm = minus_dm - minus_dm / period + m_move
        tr = tr - tr / period + bar_tr
        plus[i] = _di(plus_dm, tr)
        minus[i] = _di(minus_dm, tr)
        di_sum = minus[i] + plus[i]
        defined = tr != 0.0 and di_sum != 0.0
        dx = 100.0 * (abs(minus[i] - plus[i]) / di_sum) if defined else 0.0
        if i < 2 * period - 1:
            if defined:
                dx_sum += dx
        elif i == 2 * period - 1:
            if defined:
                dx_sum += dx
            prev_adx = dx_sum / period
            adx[i] = prev_adx
        else:
            if defined:
                prev_adx = (prev_adx * (period - 1) + dx) / period
            adx[i] = prev_adx
    return plus, minus, adx


def _dmi(name: str, high: Any, low: Any, close: Any, period: Any) -> tuple[FloatArray, ...]:
    period = check_period(name, "period", period, minimum=2)
    h, lo, c = as_series_group(name, high=high, low=low, close=close)
    return _dmi_kernel(h, lo, c, period)


def adx(high: Any, low: Any, close: Any, period: int = 14) -> FloatArray:
    """Wilder's ADX (TA-Lib, unstable period 0): first value at ``2*period - 1``.

    Bars whose DX is undefined (zero range, or +DI = -DI = 0) leave ADX unchanged, as in TA-Lib.
    """
    return _dmi("ADX", high, low, close, period)[2]


def plus_di(high: Any, low: Any, close: Any, period: int = 14) -> FloatArray:
    """+DI (TA-Lib PLUS_DI): first value at ``period``; 0 while the smoothed true range is 0."""
    return _dmi("PLUS_DI", high, low, close, period)[0]


def minus_di(high: Any, low: Any, close: Any, period: int = 14) -> FloatArray:
    """-DI (TA-Lib MINUS_DI): first value at ``period``; 0 while the smoothed true range is 0."""
    return _dmi("MINUS_DI", high, low, close, period)[1]


class ADX(HLCIndicator):
    """Streaming ADX; also exposes ``plus_di`` and ``minus_di`` (defined ``period - 1`` bars
    before ADX). ``value`` is the ADX."""

    __slots__ = (
        "_count",
        "_dx_sum",
        "_minus_dm",
        "_period",
        "_plus_dm",
        "_prev_close",
        "_prev_high",
        "_prev_low",
        "_tr",
        "adx",
        "minus_di",
        "plus_di",
    )

    def __init__(self, period: int = 14) -> None:
        self._period = check_period(type(self).__name__, "period", period, minimum=2)
        self.reset()

    def reset(self) -> None:
        self._count = 0
        self._plus_dm = self._minus_dm = self._tr = self._dx_sum = 0.0
        self._prev_high = self._prev_low = self._prev_close = NAN
        self.value = self.adx = self.plus_di = self.minus_di = NAN
        self.ready = False

    def update(self, high: float, low: float, close: float) -> float:
        self._step(high, low, close)
        self._publish()
        return self.value

    def _publish(self) -> None:
        self.value = self.adx
        self.ready = not math.isnan(self.adx)

    def _step(self, high: float, low: float, close: float) -> None:
        i = self._count
        self._count += 1
        prev_high, prev_low, prev_close = self._prev_high, self._prev_low, self._prev_close
        self._prev_high, self._prev_low, self._prev_close = high, low, close
        if i == 0:
            return
        p_move, m_move = _directional_move(high - prev_high, prev_low - low)
        bar_tr = max(high - low, abs(high - prev_close), abs(low - prev_close))
        period = self._period
        if i < period:
            self._plus_dm += p_move
            self._minus_dm += m_move
            self._tr += bar_tr
            return
        self._plus_dm = plus_dm = self._plus_dm - self._plus_dm / period + p_move
        self._minus_dm = minus_dm = self._minus_dm - self._minus_dm / period + m_move
        self._tr = tr = self._tr - self._tr / period + bar_tr
        self.plus_di = plus = _di(plus_dm, tr)
        self.minus_di = minus = _di(minus_dm, tr)
        di_sum = minus + plus
        defined = tr != 0.0 and di_sum != 0.0
        dx = 100.0 * (abs(minus - plus) / di_sum) if defined else 0.0
        if i < 2 * period - 1:
            if defined:
                self._dx_sum += dx
        elif i == 2 * period - 1:
            if defined:
                self._dx_sum += dx
            self.adx = self._dx_sum / period
        elif defined:
            self.adx = (self.adx * (period - 1) + dx) / period


class PlusDI(ADX):
    """Streaming +DI; ``value`` is +DI (``adx`` and ``minus_di`` are also maintained)."""

    __slots__ = ()

    def _publish(self) -> None:
        self.value = self.plus_di
        self.ready = not math.isnan(self.plus_di)


class MinusDI(ADX):
    """Streaming -DI; ``value`` is -DI (``adx`` and ``plus_di`` are also maintained)."""

    __slots__ = ()

    def _publish(self) -> None:
        self.value = self.minus_di
        self.ready = not math.isnan(self.minus_di)


# --- Parabolic SAR --------------------------------------------------------------------------


class _SarState(NamedTuple):
    is_long: bool
    sar: float
    ep: float
    af: float


@jit
def _sar_step(
    is_long: bool,
    sar: float,
    ep: float,
    af: float,
    acceleration: float,
    maximum: float,
    prev_high: float,
    prev_low: float,
    high: float,
    low: float,
) -> tuple[float, bool, float, float, float]:
    """One TA-Lib SAR step: returns (output, is_long, next sar, ep, af)."""
    if is_long:
        if low <= sar:
            out = max(ep, prev_high, high)
            ep = low
            af = acceleration
            nxt = max(out + af * (ep - out), prev_high, high)
            return out, False, nxt, ep, af
        out = sar
        if high > ep:
            ep = high
            af = min(af + acceleration, maximum)
        return out, True, min(sar + af * (ep - sar), prev_low, low), ep, af
    if high >= sar:
        out = min(ep, prev_low, low)
        ep = high
        af = acceleration
        nxt = min(out + af * (ep - out), prev_low, low)
        return out, True, nxt, ep, af
    out = sar
    if low < ep:
        ep = low
        af = min(af + acceleration, maximum)
    return out, False, max(sar + af * (ep - sar), prev_high, high), ep, af


@jit
def _sar_start(high0: float, low0: float, high1: float, low1: float) -> tuple[bool, float, float]:
    """Initial (is_long, sar, ep): short if bar 1 has a -DM, else long (TA-Lib)."""
    _, minus = _directional_move(high1 - high0, low0 - low1)
    if minus > 0:
        return False, high0, low1
    return True, low0, high1


@jit
def _sar_kernel(
    high: FloatArray, low: FloatArray, acceleration: float, maximum: float
) -> FloatArray:
    n = len(high)
    out = np.full(n, np.nan)
    if n < 2:
        return out
    is_long, sar, ep = _sar_start(high[0], low[0], high[1], low[1])
    af = acceleration
    prev_high, prev_low = high[1], low[1]
    for i in range(1, n):
        out[i], is_long, sar, ep, af = _sar_step(
            is_long, sar, ep, af, acceleration, maximum, prev_high, prev_low, high[i], low[i]
        )
        prev_high, prev_low = high[i], low[i]
    return out


def _sar_params(acceleration: Any, maximum: Any) -> tuple[float, float]:
    acc = check_positive("SAR", "acceleration", acceleration)
    top = check_positive("SAR", "maximum", maximum)
    return min(acc, top), top


def sar(high: Any, low: Any, acceleration: float = 0.02, maximum: float = 0.2) -> FloatArray:
    """Parabolic SAR exactly as TA-Lib: first value at index 1, initial direction short if the
    second bar has a -DM, and the SAR never enters the current or previous bar's range."""
    acc, top = _sar_params(acceleration, maximum)
    h, lo = as_series_group("SAR", high=high, low=low)
    return _sar_kernel(h, lo, acc, top)


class SAR(HLIndicator):
    """Streaming Parabolic SAR."""

    __slots__ = ("_acc", "_max", "_prev_high", "_prev_low", "_state")

    def __init__(self, acceleration: float = 0.02, maximum: float = 0.2) -> None:
        self._acc, self._max = _sar_params(acceleration, maximum)
        self.reset()

    def reset(self) -> None:
        self._state: _SarState | None = None
        self._prev_high = self._prev_low = NAN
        self.value = NAN
        self.ready = False

    def update(self, high: float, low: float) -> float:
        state = self._state
        if state is None:
            if math.isnan(self._prev_high):
                self._prev_high, self._prev_low = high, low
                return NAN
            is_long, sar, ep = _sar_start(self._prev_high, self._prev_low, high, low)
            state = _SarState(is_long, sar, ep, self._acc)
            self._prev_high, self._prev_low = high, low
        out, is_long, sar, ep, af = _sar_step(
            state.is_long,
            state.sar,
            state.ep,
            state.af,
            self._acc,
            self._max,
            self._prev_high,
            self._prev_low,
            high,
            low,
        )
        self._state = _SarState(is_long, sar, ep, af)
        self._prev_high, self._prev_low = high, low
        self.value = out
        self.ready = True
        return out


# --- Aroon ----------------------------------------------------------------------------------


class AroonResult(NamedTuple):
    down: FloatArray
    up: FloatArray


@jit
def _bars_since_extreme(x: FloatArray, start: int, end: int, highest: bool) -> int:
    """Bars from the latest extreme of ``x[start:end+1]`` to ``end`` (ties: most recent)."""
    best_idx = start
    best = x[start]
    for j in range(start + 1, end + 1):
        if (x[j] >= best) if highest else (x[j] <= best):
            best = x[j]
            best_idx = j
    return end - best_idx


@jit
def _aroon_kernel(high: FloatArray, low: FloatArray, period: int) -> tuple[FloatArray, FloatArray]:
    n = len(high)
    down = np.full(n, np.nan)
    up = np.full(n, np.nan)
    factor = 100.0 / period
    for i in range(period, n):
        up[i] = factor * (period - _bars_since_extreme(high, i - period, i, True))
        down[i] = factor * (period - _bars_since_extreme(low, i - period, i, False))
    return down, up


def aroon(high: Any, low: Any, period: int = 14) -> AroonResult:
    """Aroon down/up in TA-Lib's order (TA-Lib AROON): window of ``period + 1`` bars, ties go to
    the most recent bar; first value at ``period``."""
    period = check_period("AROON", "period", period)
    h, lo = as_series_group("AROON", high=high, low=low)
    return AroonResult(*_aroon_kernel(h, lo, period))


class Aroon(HLIndicator):
    """Streaming Aroon; ``value`` is Aroon up, ``down`` the other line."""

    __slots__ = ("_factor", "_highs", "_lows", "_period", "down", "up")

    def __init__(self, period: int = 14) -> None:
        self._period = check_period("AROON", "period", period)
        self._factor = 100.0 / self._period
        self._highs: deque[float] = deque(maxlen=self._period + 1)
        self._lows: deque[float] = deque(maxlen=self._period + 1)
        self.reset()

    def reset(self) -> None:
        self._highs.clear()
        self._lows.clear()
        self.value = self.up = self.down = NAN
        self.ready = False

    @staticmethod
    def _age(window: deque[float], highest: bool) -> int:
        newest_first = list(window)[::-1]
        return newest_first.index(max(newest_first) if highest else min(newest_first))

    def update(self, high: float, low: float) -> float:
        self._highs.append(high)
        self._lows.append(low)
        if len(self._highs) == self._period + 1:
            self.value = self.up = self._factor * (self._period - self._age(self._highs, True))
            self.down = self._factor * (self._period - self._age(self._lows, False))
            self.ready = True
        return self.value


# --- Supertrend -----------------------------------------------------------------------------


class SupertrendResult(NamedTuple):
    supertrend: FloatArray
    direction: FloatArray


@jit
def _supertrend_step(
    mid: float,
    width: float,
    close: float,
    prev_close: float,
    upper: float,
    lower: float,
    direction: float,
) -> tuple[float, float, float]:
    """Return (upper, lower, direction) after one bar; NaN state means "first bar"."""
    basic_upper = mid + width
    basic_lower = mid - width
    if math.isnan(direction):
        return basic_upper, basic_lower, -1.0
    new_upper = basic_upper if (basic_upper < upper or prev_close > upper) else upper
    new_lower = basic_lower if (basic_lower > lower or prev_close < lower) else lower
    if direction < 0:
        direction = 1.0 if close > new_upper else -1.0
    else:
        direction = -1.0 if close < new_lower else 1.0
    return new_upper, new_lower, direction


@jit
def _supertrend_kernel(
    high: FloatArray, low: FloatArray, close: FloatArray, atr: FloatArray, multiplier: float
) -> tuple[FloatArray, FloatArray]:
    n = len(close)
    line = np.full(n, np.nan)
    trend = np.full(n, np.nan)
    upper = lower = direction = NAN
    for i in range(n):
        if math.isnan(atr[i]):
            continue
        upper, lower, direction = _supertrend_step(
            (high[i] + low[i]) / 2.0,
            multiplier * atr[i],
            close[i],
            close[i - 1],
            upper,
            lower,
            direction,
        )
        line[i] = lower if direction > 0 else upper
        trend[i] = direction
    return line, trend


def _supertrend_params(period: Any, multiplier: Any) -> tuple[int, float]:
    return (
        check_period("SUPERTREND", "period", period),
        check_positive("SUPERTREND", "multiplier", multiplier),
    )


def supertrend(
    high: Any, low: Any, close: Any, period: int = 10, multiplier: float = 3.0
) -> SupertrendResult:
    """Supertrend line and direction (+1 up: line is the lower band; -1 down: upper band).

    Not in TA-Lib. Convention: TradingView's ``ta.supertrend`` with bands at
    (high+low)/2 +/- multiplier * Wilder ATR(period) (TA-Lib ATR), the final bands ratcheting
    unless the previous close crossed them, and the first defined bar (index ``period``) starting
    in a downtrend.
    """
    period, mult = _supertrend_params(period, multiplier)
    h, lo, c = as_series_group("SUPERTREND", high=high, low=low, close=close)
    return SupertrendResult(
        *_supertrend_kernel(h, lo, c, wilder_atr_kernel(true_range_array(h, lo, c), period), mult)
    )


class Supertrend(HLCIndicator):
    """Streaming Supertrend; ``value`` is the line, ``direction`` +1 (up) or -1 (down)."""

    __slots__ = ("_atr", "_lower", "_mult", "_prev_close", "_upper", "direction")

    def __init__(self, period: int = 10, multiplier: float = 3.0) -> None:
        period, self._mult = _supertrend_params(period, multiplier)
        self._atr = ATR(period)
        self.reset()

    def reset(self) -> None:
        self._atr.reset()
        self._upper = self._lower = self._prev_close = NAN
        self.value = self.direction = NAN
        self.ready = False

    def update(self, high: float, low: float, close: float) -> float:
        a = self._atr.update(high, low, close)
        prev_close = self._prev_close
        self._prev_close = close
        if not self._atr.ready:
            return NAN
        self._upper, self._lower, self.direction = _supertrend_step(
            (high + low) / 2.0,
            self._mult * a,
            close,
            prev_close,
            self._upper,
            self._lower,
            self.direction,
        )
        self.value = self._lower if self.direction > 0 else self._upper
        self.ready = True
        return self.value


# --- Ichimoku -------------------------------------------------------------------------------


class IchimokuResult(NamedTuple):
    tenkan: FloatArray
    kijun: FloatArray
    senkou_a: FloatArray
    senkou_b: FloatArray


def _ichimoku_periods(tenkan: Any, kijun: Any, senkou: Any) -> tuple[int, int, int]:
    return (
        check_period("ICHIMOKU", "tenkan_period", tenkan),
        check_period("ICHIMOKU", "kijun_period", kijun),
        check_period("ICHIMOKU", "senkou_period", senkou),
    )


def _shifted(x: FloatArray, lag: int) -> FloatArray:
    out = np.full(len(x), np.nan)
    if lag < len(x):
        out[lag:] = x[: len(x) - lag]
    return out


def ichimoku(
    high: Any, low: Any, tenkan_period: int = 9, kijun_period: int = 26, senkou_period: int = 52
) -> IchimokuResult:
    """Ichimoku lines aligned to the bar at which they are plotted, so no value uses the future.

    Not in TA-Lib. Convention (Hosoda, the usual 9/26/52): tenkan and kijun are midpoints of the
    high/low range over their periods; the leading spans are computed ``kijun_period`` bars
    earlier and displaced forward by that much, i.e. ``senkou_a[t] = (tenkan + kijun)/2`` at
    ``t - kijun_period``. The lagging span (chikou) is just the close drawn in the past, so it is
    not returned: as a series indexed by time it would be look-ahead.
    """
    tp, kp, sp = _ichimoku_periods(tenkan_period, kijun_period, senkou_period)
    h, lo = as_series_group("ICHIMOKU", high=high, low=low)
    tenkan = (rolling_max(h, tp) + rolling_min(lo, tp)) / 2.0
    kijun = (rolling_max(h, kp) + rolling_min(lo, kp)) / 2.0
    span_a = _shifted((tenkan + kijun) / 2.0, kp)
    span_b = _shifted((rolling_max(h, sp) + rolling_min(lo, sp)) / 2.0, kp)
    return IchimokuResult(tenkan, kijun, span_a, span_b)


class Ichimoku(HLIndicator):
    """Streaming Ichimoku; ``value`` is the kijun (base line), see :func:`ichimoku`."""

    __slots__ = ("_highs", "_lows", "_periods", "_spans", "kijun", "senkou_a", "senkou_b", "tenkan")

    def __init__(
        self, tenkan_period: int = 9, kijun_period: int = 26, senkou_period: int = 52
    ) -> None:
        self._periods = _ichimoku_periods(tenkan_period, kijun_period, senkou_period)
        longest = max(self._periods)
        self._highs: deque[float] = deque(maxlen=longest)
        self._lows: deque[float] = deque(maxlen=longest)
        self._spans: deque[tuple[float, float]] = deque(maxlen=self._periods[1] + 1)
        self.reset()

    def reset(self) -> None:
        self._highs.clear()
        self._lows.clear()
        self._spans.clear()
        self.value = self.tenkan = self.kijun = self.senkou_a = self.senkou_b = NAN
        self.ready = False

    def _midpoint(self, period: int) -> float:
        if len(self._highs) < period:
            return NAN
        highs = list(self._highs)[-period:]
        lows = list(self._lows)[-period:]
        return (max(highs) + min(lows)) / 2.0

    def update(self, high: float, low: float) -> float:
        self._highs.append(high)
        self._lows.append(low)
        tp, kp, sp = self._periods
        self.tenkan = self._midpoint(tp)
        self.kijun = self.value = self._midpoint(kp)
        self._spans.append(((self.tenkan + self.kijun) / 2.0, self._midpoint(sp)))
        if len(self._spans) == kp + 1:
            self.senkou_a, self.senkou_b = self._spans[0]
        self.ready = not math.isnan(self.kijun)
        return self.value
