"""Volume indicators: OBV, MFI (TA-Lib), session-anchored VWAP and rolling VWAP."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from ttquant.core.errors import ConfigError
from ttquant.indicators._base import CloseVolumeIndicator, HLCVIndicator, TimedBarLike
from ttquant.indicators._core import jit
from ttquant.indicators._validation import (
    FloatArray,
    as_series_group,
    check_period,
)

NAN = math.nan
DAY_NS = 86_400 * 1_000_000_000


# --- OBV ------------------------------------------------------------------------------------


def obv(close: Any, volume: Any) -> FloatArray:
    """On-balance volume starting at the first bar's volume (TA-Lib OBV, no warm-up)."""
    c, v = as_series_group("OBV", close=close, volume=volume)
    signed = v.copy()
    signed[1:] *= np.sign(np.diff(c))
    return np.cumsum(signed)


class OBV(CloseVolumeIndicator):
    """Streaming on-balance volume."""

    __slots__ = ("_prev",)

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._prev = NAN
        self.value = NAN
        self.ready = False

    def update(self, close: float, volume: float) -> float:
        prev = self._prev
        self._prev = close
        if not self.ready:
            self.value = volume
            self.ready = True
        elif close > prev:
            self.value += volume
        elif close < prev:
            self.value -= volume
        return self.value


# --- MFI ------------------------------------------------------------------------------------


@jit
def _flow_direction(typical: float, prev: float) -> int:
    """+1/-1/0 for a rising/falling/unchanged typical price.

    Typical prices whose (high, low, close) sums are equal can still differ in the last bits
    depending on the order of the additions; like TA-Lib 0.8, a change within 1e-14 of the price
    level counts as unchanged rather than flipping the bar's money flow to one side.
    """
    change = typical - prev
    if abs(change) <= 1e-14 * (abs(typical) + abs(prev)):
        return 0
    return 1 if change > 0 else -1


@jit
def _mfi_value(positive: FloatArray, negative: FloatArray) -> float:
    """MFI from a window's flows, summed afresh: running sums drift below zero when a side's
    flows leave the window, which would put MFI outside [0, 100]."""
    pos_sum = 0.0
    neg_sum = 0.0
    for k in range(len(positive)):
        pos_sum += positive[k]
        neg_sum += negative[k]
    total = pos_sum + neg_sum
    return 100.0 * (pos_sum / total) if total != 0.0 else 0.0


@jit
def _mfi_kernel(
    high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, period: int
) -> FloatArray:
    n = len(close)
    out = np.full(n, np.nan)
    typical = (high + low + close) / 3.0
    positive = np.zeros(n)
    negative = np.zeros(n)
    for i in range(1, n):
        direction = _flow_direction(typical[i], typical[i - 1])
        if direction < 0:
            negative[i] = typical[i] * volume[i]
        elif direction > 0:
            positive[i] = typical[i] * volume[i]
        if i >= period:
            out[i] = _mfi_value(positive[i - period + 1 : i + 1], negative[i - period + 1 : i + 1])
    return out


def mfi(high: Any, low: Any, close: Any, volume: Any, period: int = 14) -> FloatArray:
    """Money flow index on the typical price (TA-Lib MFI); first value at ``period``; 0 when no
    money flowed in the window."""
    period = check_period("MFI", "period", period)
    h, lo, c, v = as_series_group("MFI", high=high, low=low, close=close, volume=volume)
    return _mfi_kernel(h, lo, c, v, period)


class MFI(HLCVIndicator):
    """Streaming MFI; O(period) per update (one numba call summing the window's flows)."""

    __slots__ = ("_count", "_negative", "_period", "_positive", "_prev")

    def __init__(self, period: int = 14) -> None:
        self._period = check_period("MFI", "period", period)
        self.reset()

    def reset(self) -> None:
        self._positive = np.zeros(self._period)
        self._negative = np.zeros(self._period)
        self._count = 0
        self._prev = NAN
        self.value = NAN
        self.ready = False

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        typical = (high + low + close) / 3.0
        prev = self._prev
        self._prev = typical
        self._count += 1
        if self._count == 1:
            return NAN
        direction = _flow_direction(typical, prev)
        # Flows are kept oldest-first so the sums run in the same order as the vectorized form.
        self._positive[:-1] = self._positive[1:]
        self._negative[:-1] = self._negative[1:]
        self._positive[-1] = typical * volume if direction > 0 else 0.0
        self._negative[-1] = typical * volume if direction < 0 else 0.0
        if self._count > self._period:
            self.value = float(_mfi_value(self._positive, self._negative))
            self.ready = True
        return self.value


# --- VWAP -----------------------------------------------------------------------------------


def _session_length(session_ns: Any) -> int:
    if isinstance(session_ns, bool) or not isinstance(session_ns, int | np.integer):
        raise ConfigError(
            f"VWAP: parameter 'session_ns' must be an integer number of nanoseconds, "
            f"got {type(session_ns).__name__} {session_ns!r}"
        )
    if session_ns < 1:
        raise ConfigError(f"VWAP: parameter 'session_ns' must be >= 1, got {session_ns}")
    return int(session_ns)


@jit
def _vwap_kernel(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    volume: FloatArray,
    session: np.ndarray[Any, np.dtype[np.int64]],
) -> FloatArray:
    n = len(close)
    out = np.full(n, np.nan)
    pv = 0.0
    vol = 0.0
    for i in range(n):
        if i == 0 or session[i] != session[i - 1]:
            pv = 0.0
            vol = 0.0
        pv += (high[i] + low[i] + close[i]) / 3.0 * volume[i]
        vol += volume[i]
        if vol != 0.0:
            out[i] = pv / vol
    return out


def vwap(
    high: Any, low: Any, close: Any, volume: Any, ts_event: Any, session_ns: int = DAY_NS
) -> FloatArray:
    """Session-anchored VWAP of the typical price (high+low+close)/3.

    Not in TA-Lib. A session is the span ``[k*session_ns, (k+1)*session_ns)`` of ``ts_event``
    (epoch nanoseconds UTC, the bar's event time); the default is the UTC calendar day. The VWAP
    restarts at each session and is NaN while the session has traded no volume.
    """
    length = _session_length(session_ns)
    h, lo, c, v = as_series_group("VWAP", high=high, low=low, close=close, volume=volume)
    try:
        ts = np.ascontiguousarray(ts_event, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"VWAP: input 'ts_event' must be integer nanoseconds ({exc})") from None
    if ts.shape != c.shape:
        raise ConfigError(
            f"VWAP: inputs must have the same length, got close={len(c)}, ts_event={len(ts)}"
        )
    return _vwap_kernel(h, lo, c, v, ts // length)


class VWAP(HLCVIndicator):
    """Streaming session VWAP; :meth:`handle_bar` takes the session from ``bar.ts_event``."""

    __slots__ = ("_length", "_pv", "_session", "_vol")

    def __init__(self, session_ns: int = DAY_NS) -> None:
        self._length = _session_length(session_ns)
        self.reset()

    def reset(self) -> None:
        self._session: int | None = None
        self._pv = self._vol = 0.0
        self.value = NAN
        self.ready = False

    def update(  # type: ignore[override]  # VWAP also needs the bar's time
        self, high: float, low: float, close: float, volume: float, ts_event: int
    ) -> float:
        session = ts_event // self._length
        if session != self._session:
            self._session = session
            self._pv = self._vol = 0.0
        self._pv += (high + low + close) / 3.0 * volume
        self._vol += volume
        self.value = self._pv / self._vol if self._vol != 0.0 else NAN
        self.ready = self._vol != 0.0
        return self.value

    def handle_bar(self, bar: TimedBarLike) -> float:  # type: ignore[override]
        return self.update(bar.high, bar.low, bar.close, bar.volume, bar.ts_event)


# --- Rolling VWAP ---------------------------------------------------------------------------


@jit
def _rolling_vwap_kernel(
    high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, period: int
) -> FloatArray:
    n = len(close)
    out = np.full(n, np.nan)
    pv = (high + low + close) / 3.0 * volume
    pv_sum = 0.0
    vol_sum = 0.0
    traded = 0
    left = period
    for i in range(n):
        pv_sum += pv[i]
        vol_sum += volume[i]
        traded += volume[i] != 0.0
        if i < period - 1:
            continue
        oldest = i - period + 1
        left -= 1
        if left == 0:
            left = period
            pv_sum = 0.0
            vol_sum = 0.0
            for j in range(oldest, i + 1):
                pv_sum += pv[j]
                vol_sum += volume[j]
        if traded:
            out[i] = pv_sum / vol_sum
        pv_sum -= pv[oldest]
        vol_sum -= volume[oldest]
        traded -= volume[oldest] != 0.0
    return out


def rolling_vwap(high: Any, low: Any, close: Any, volume: Any, period: int = 20) -> FloatArray:
    """VWAP of the typical price over the last ``period`` bars; NaN if none of them traded.

    Not in TA-Lib. Running sums, recomputed from the window every ``period`` bars against drift;
    an exact count of traded bars decides "no volume" so drift cannot fake a tiny denominator.
    """
    period = check_period("ROLLING_VWAP", "period", period)
    h, lo, c, v = as_series_group("ROLLING_VWAP", high=high, low=low, close=close, volume=volume)
    return _rolling_vwap_kernel(h, lo, c, v, period)


class RollingVWAP(HLCVIndicator):
    """Streaming rolling N-bar VWAP (same arithmetic as :func:`rolling_vwap`)."""

    __slots__ = ("_buf", "_left", "_period", "_pv_sum", "_traded", "_vol_sum")

    def __init__(self, period: int = 20) -> None:
        self._period = check_period("ROLLING_VWAP", "period", period)
        self.reset()

    def reset(self) -> None:
        self._buf: deque[tuple[float, float]] = deque(maxlen=self._period)
        self._pv_sum = self._vol_sum = 0.0
        self._traded = 0
        self._left = self._period
        self.value = NAN
        self.ready = False

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        pv = (high + low + close) / 3.0 * volume
        buf = self._buf
        buf.append((pv, volume))
        self._pv_sum += pv
        self._vol_sum += volume
        self._traded += volume != 0.0
        if len(buf) < self._period:
            return NAN
        self._left -= 1
        if self._left == 0:
            self._left = self._period
            self._pv_sum = sum(item[0] for item in buf)
            self._vol_sum = sum(item[1] for item in buf)
        self.value = self._pv_sum / self._vol_sum if self._traded else NAN
        self.ready = self._traded > 0
        old_pv, old_vol = buf[0]
        self._pv_sum -= old_pv
        self._vol_sum -= old_vol
        self._traded -= old_vol != 0.0
        return self.value
