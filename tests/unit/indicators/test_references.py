"""Indicators TA-Lib lacks, against pandas, compositions of TA-Lib functions, transcriptions of
their published definitions, or hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

import ttquant.indicators as ti

Bars = dict[str, np.ndarray]


def assert_close(actual: np.ndarray, desired: np.ndarray, rtol: float = 1e-9) -> None:
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(desired))
    valid = ~np.isnan(desired)
    scale = float(np.max(np.abs(desired[valid])))
    np.testing.assert_allclose(actual[valid], desired[valid], rtol=rtol, atol=rtol * scale)


@pytest.fixture(params=["btc_1m", "spy_daily", "eurusd_1h"])
def bars(request: pytest.FixtureRequest, datasets: dict[str, Bars]) -> Bars:
    return datasets[request.param]


def test_hma_is_hulls_formula_on_talib_wma(bars: Bars) -> None:
    c = bars["close"]
    expected = talib.WMA(2 * talib.WMA(c, 10) - talib.WMA(c, 20), 4)
    assert_close(ti.hma(c, 20), expected)


def test_keltner_is_talib_ema_and_atr(bars: Bars) -> None:
    h, lo, c = bars["high"], bars["low"], bars["close"]
    middle = talib.EMA(c, 20)
    width = 1.5 * talib.ATR(h, lo, c, 10)
    middle[np.isnan(width)] = np.nan
    upper, mid, lower = ti.keltner(h, lo, c, 20, 1.5, 10)
    assert_close(mid, middle)
    assert_close(upper, middle + width)
    assert_close(lower, middle - width)


def test_donchian_matches_pandas_rolling(bars: Bars) -> None:
    h, lo = pd.Series(bars["high"]), pd.Series(bars["low"])
    upper, middle, lower = ti.donchian(bars["high"], bars["low"], 20)
    assert_close(upper, h.rolling(20).max().to_numpy())
    assert_close(lower, lo.rolling(20).min().to_numpy())
    assert_close(middle, ((h.rolling(20).max() + lo.rolling(20).min()) / 2).to_numpy())


def test_ichimoku_matches_pandas_rolling_and_shift(bars: Bars) -> None:
    h, lo = pd.Series(bars["high"]), pd.Series(bars["low"])

    def mid(n: int) -> pd.Series:
        return (h.rolling(n).max() + lo.rolling(n).min()) / 2

    result = ti.ichimoku(bars["high"], bars["low"], 9, 26, 52)
    assert_close(result.tenkan, mid(9).to_numpy())
    assert_close(result.kijun, mid(26).to_numpy())
    assert_close(result.senkou_a, ((mid(9) + mid(26)) / 2).shift(26).to_numpy())
    assert_close(result.senkou_b, mid(52).shift(26).to_numpy())


def test_zscore_matches_pandas(bars: Bars) -> None:
    c = pd.Series(bars["close"])
    mean, std = c.rolling(20).mean(), c.rolling(20).std(ddof=0)
    expected = ((c - mean) / std).to_numpy()
    # pandas' own rolling variance is only good to ~1e-9 relative on minute prices, and z is a
    # difference of near-equal numbers, hence the looser tolerance than for TA-Lib parity.
    assert_close(ti.zscore(bars["close"], 20), expected, rtol=1e-6)


def test_vwap_matches_pandas_groupby_per_utc_day(datasets: dict[str, Bars]) -> None:
    b = datasets["btc_1m"]
    typical = (b["high"] + b["low"] + b["close"]) / 3
    day = b["ts_event"] // (86_400 * 10**9)
    pv = pd.Series(typical * b["volume"]).groupby(day).cumsum()
    vol = pd.Series(b["volume"]).groupby(day).cumsum()
    expected = (pv / vol).where(vol != 0).to_numpy()
    assert_close(ti.vwap(b["high"], b["low"], b["close"], b["volume"], b["ts_event"]), expected)


def test_vwap_session_length_hand_computed() -> None:
    hour = 3_600 * 10**9
    price = np.array([10.0, 13.0, 20.0, 30.0])
    volume = np.array([1.0, 2.0, 5.0, 5.0])
    ts = np.array([0, hour, 2 * hour, 3 * hour])
    out = ti.vwap(price, price, price, volume, ts, session_ns=2 * hour)
    np.testing.assert_allclose(out, [10.0, 12.0, 20.0, 25.0])


def test_rolling_vwap_matches_pandas(datasets: dict[str, Bars]) -> None:
    b = datasets["btc_1m"]
    typical = (b["high"] + b["low"] + b["close"]) / 3
    pv = pd.Series(typical * b["volume"]).rolling(20).sum()
    vol = pd.Series(b["volume"]).rolling(20).sum()
    assert_close(
        ti.rolling_vwap(b["high"], b["low"], b["close"], b["volume"], 20), (pv / vol).to_numpy()
    )


def _pine_supertrend(h: np.ndarray, lo: np.ndarray, c: np.ndarray, period: int, factor: float):
    """Transcription of TradingView's ``pine_supertrend`` reference script (Pine v5 manual)."""
    atr = talib.ATR(h, lo, c, period)
    n = len(c)
    line, direction = np.full(n, np.nan), np.full(n, np.nan)
    prev_upper = prev_lower = 0.0
    prev_line = np.nan
    for i in range(n):
        src = (h[i] + lo[i]) / 2
        upper, lower = src + factor * atr[i], src - factor * atr[i]
        if not np.isnan(atr[i]):
            if i > 0 and not (lower > prev_lower or c[i - 1] < prev_lower):
                lower = prev_lower
            if i > 0 and not (upper < prev_upper or c[i - 1] > prev_upper):
                upper = prev_upper
            if np.isnan(atr[i - 1]):
                d = 1
            elif prev_line == prev_upper:
                d = -1 if c[i] > upper else 1
            else:
                d = 1 if c[i] < lower else -1
            prev_line = lower if d == -1 else upper
            line[i], direction[i] = prev_line, -d  # Pine: -1 is up; ours: +1 is up
        prev_upper = 0.0 if np.isnan(upper) else upper
        prev_lower = 0.0 if np.isnan(lower) else lower
    return line, direction


def test_supertrend_matches_pine_reference(bars: Bars) -> None:
    h, lo, c = bars["high"][:5000], bars["low"][:5000], bars["close"][:5000]
    line, direction = _pine_supertrend(h, lo, c, 10, 3.0)
    result = ti.supertrend(h, lo, c, 10, 3.0)
    assert_close(result.supertrend, line)
    np.testing.assert_array_equal(result.direction, direction)
    assert {-1.0, 1.0} <= set(np.unique(direction[~np.isnan(direction)]))


def test_supertrend_flips_up_on_a_breakout_hand_computed() -> None:
    # Flat bars with range 2 (ATR(1) = 2) then a close far above the upper band.
    h = np.array([11.0, 11.0, 11.0, 31.0])
    lo = np.array([9.0, 9.0, 9.0, 29.0])
    c = np.array([10.0, 10.0, 10.0, 30.0])
    line, direction = ti.supertrend(h, lo, c, 1, 1.0)
    # bar 1: ATR 2, bands 12/8, starts down -> line 12; bar 2 same; bar 3: TR = 21,
    # basic lower = 30 - 21 = 9 > 8 -> lower 9, close 30 > upper 12 -> up, line = 9.
    np.testing.assert_array_equal(line, [np.nan, 12.0, 12.0, 9.0])
    np.testing.assert_array_equal(direction, [np.nan, -1.0, -1.0, 1.0])


def test_stddev_is_exact_where_running_sums_of_squares_fail() -> None:
    # Tiny spread at a huge level: E[x^2] - E[x]^2 in doubles would return garbage or 0.
    x = 1e8 + np.array([0.0, 1.0, 2.0, 3.0, 4.0] * 40)
    out = ti.stddev(x, 5)
    np.testing.assert_allclose(out[4:], np.sqrt(2.0), rtol=1e-12)
