"""Invariants on random OHLCV series (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from _cases import ATTRIBUTE, CASES
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ttquant.indicators as ti
from ttquant.indicators import REGISTRY

Bars = dict[str, np.ndarray]


@st.composite
def ohlcv(draw: st.DrawFn, min_size: int = 1, max_size: int = 120) -> Bars:
    n = draw(st.integers(min_size, max_size))
    steps = draw(arrays(np.float64, n, elements=st.floats(-0.05, 0.05)))
    close = 100.0 * np.exp(np.cumsum(steps))
    up = draw(arrays(np.float64, n, elements=st.floats(0.0, 0.03)))
    down = draw(arrays(np.float64, n, elements=st.floats(0.0, 0.03)))
    open_ = np.concatenate([close[:1], close[:-1]])
    high = np.maximum(open_, close) * (1 + up)
    low = np.minimum(open_, close) * (1 - down)
    volume = draw(arrays(np.float64, n, elements=st.sampled_from([0.0, 0.5, 1.0, 7.25, 1e3])))
    ts = np.cumsum(draw(arrays(np.int64, n, elements=st.integers(1, 10**13)))).astype(np.int64)
    return {
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
        "ts_event": ts,
    }


PROPS = settings(max_examples=60, deadline=None)


@PROPS
@given(ohlcv(), st.integers(2, 30), st.floats(0.5, 3.0))
def test_bollinger_bands_are_ordered(bars: Bars, period: int, k: float) -> None:
    upper, middle, lower = ti.bbands(bars["close"], period, k, k)
    ok = ~np.isnan(middle)
    assert np.all(upper[ok] >= middle[ok]) and np.all(middle[ok] >= lower[ok])


@PROPS
@given(ohlcv(), st.integers(1, 30))
def test_rsi_and_mfi_are_within_0_and_100(bars: Bars, period: int) -> None:
    for values in (
        ti.rsi(bars["close"], period),
        ti.mfi(bars["high"], bars["low"], bars["close"], bars["volume"], period),
    ):
        ok = ~np.isnan(values)
        assert np.all((values[ok] >= 0.0) & (values[ok] <= 100.0))


@PROPS
@given(ohlcv(), st.integers(1, 30))
def test_atr_is_not_negative(bars: Bars, period: int) -> None:
    values = ti.atr(bars["high"], bars["low"], bars["close"], period)
    assert np.all(values[~np.isnan(values)] >= 0.0)


@PROPS
@given(ohlcv(), st.integers(1, 20), st.integers(1, 5), st.integers(1, 5))
def test_stochastics_are_within_0_and_100(bars: Bars, fk: int, sk: int, sd: int) -> None:
    h, lo, c = bars["high"], bars["low"], bars["close"]
    lines = [
        *ti.stoch(h, lo, c, fk, sk, sd),
        *ti.stochf(h, lo, c, fk, sd),
        *ti.stochrsi(c, fk, sk, sd),
    ]
    tolerance = 1e-9  # SMA of values in [0, 100] may round a last bit outside
    for values in lines:
        ok = ~np.isnan(values)
        assert np.all((values[ok] >= -tolerance) & (values[ok] <= 100.0 + tolerance))


@PROPS
@given(ohlcv(), st.integers(1, 30))
def test_williams_r_is_within_minus_100_and_0(bars: Bars, period: int) -> None:
    values = ti.willr(bars["high"], bars["low"], bars["close"], period)
    ok = ~np.isnan(values)
    tolerance = 1e-9  # TA-Lib's (high - close) / (range / -100) may round a last bit past -100
    assert np.all((values[ok] >= -100.0 - tolerance) & (values[ok] <= 0.0))


@PROPS
@given(ohlcv(), st.integers(1, 30))
def test_close_lies_within_the_donchian_channel(bars: Bars, period: int) -> None:
    upper, _, lower = ti.donchian(bars["high"], bars["low"], period)
    ok = ~np.isnan(upper)
    close = bars["close"]
    assert np.all(lower[ok] <= close[ok]) and np.all(close[ok] <= upper[ok])


@settings(max_examples=15, deadline=None)
@given(ohlcv(min_size=0, max_size=150))
def test_streaming_equals_vectorized_on_random_series(bars: Bars) -> None:
    for case in CASES:
        entry = REGISTRY[case.name]
        result = entry.function(*(bars[k] for k in case.inputs), *case.args)
        outputs = result._asdict() if isinstance(result, tuple) else {"value": result}
        indicator = entry.streaming(*case.args)
        for i, row in enumerate(zip(*(bars[k].tolist() for k in case.inputs), strict=True)):
            indicator.update(*row)
            for field, want in outputs.items():
                got = getattr(indicator, ATTRIBUTE.get((case.name, field), field))
                assert (math.isnan(got) and math.isnan(want[i])) or math.isclose(
                    got, want[i], rel_tol=1e-9, abs_tol=1e-9
                ), (case.name, field, i, got, want[i])
