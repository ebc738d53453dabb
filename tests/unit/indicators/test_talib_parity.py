"""Vectorized indicators against TA-Lib on real crypto, equity and FX bars.

Tolerance: rtol 1e-9, plus an absolute 1e-9 of the series' own scale (its largest magnitude).
The absolute part is needed for lines that cross or touch zero (MACD histogram, momentum,
regression slope, an oscillator at exactly 0): TA-Lib's binary uses fused multiply-adds, so the
last bits differ and a purely relative test fails against an exact zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import talib

import ttquant.indicators as ti

Bars = dict[str, np.ndarray]


def _hlc(b: Bars) -> tuple[np.ndarray, ...]:
    return b["high"], b["low"], b["close"]


# name -> (ours, TA-Lib, needs volume)
PAIRS: dict[str, tuple[Callable[[Bars], Any], Callable[[Bars], Any], bool]] = {
    "sma": (lambda b: ti.sma(b["close"], 20), lambda b: talib.SMA(b["close"], 20), False),
    "ema": (lambda b: ti.ema(b["close"], 20), lambda b: talib.EMA(b["close"], 20), False),
    "wma": (lambda b: ti.wma(b["close"], 20), lambda b: talib.WMA(b["close"], 20), False),
    "dema": (lambda b: ti.dema(b["close"], 10), lambda b: talib.DEMA(b["close"], 10), False),
    "tema": (lambda b: ti.tema(b["close"], 10), lambda b: talib.TEMA(b["close"], 10), False),
    "kama": (lambda b: ti.kama(b["close"], 30), lambda b: talib.KAMA(b["close"], 30), False),
    "rsi": (lambda b: ti.rsi(b["close"], 14), lambda b: talib.RSI(b["close"], 14), False),
    "macd": (lambda b: ti.macd(b["close"]), lambda b: talib.MACD(b["close"]), False),
    "macd_5_35_5": (
        lambda b: ti.macd(b["close"], 5, 35, 5),
        lambda b: talib.MACD(b["close"], 5, 35, 5),
        False,
    ),
    "bbands": (
        lambda b: ti.bbands(b["close"], 20, 2.0, 1.5),
        lambda b: talib.BBANDS(b["close"], 20, 2.0, 1.5),
        False,
    ),
    "stddev": (
        lambda b: ti.stddev(b["close"], 20, 2.0),
        lambda b: talib.STDDEV(b["close"], 20, 2.0),
        False,
    ),
    "trange": (lambda b: ti.trange(*_hlc(b)), lambda b: talib.TRANGE(*_hlc(b)), False),
    "atr": (lambda b: ti.atr(*_hlc(b), 14), lambda b: talib.ATR(*_hlc(b), 14), False),
    "natr": (lambda b: ti.natr(*_hlc(b), 14), lambda b: talib.NATR(*_hlc(b), 14), False),
    "adx": (lambda b: ti.adx(*_hlc(b), 14), lambda b: talib.ADX(*_hlc(b), 14), False),
    "plus_di": (lambda b: ti.plus_di(*_hlc(b), 14), lambda b: talib.PLUS_DI(*_hlc(b), 14), False),
    "minus_di": (
        lambda b: ti.minus_di(*_hlc(b), 14),
        lambda b: talib.MINUS_DI(*_hlc(b), 14),
        False,
    ),
    "stoch": (lambda b: ti.stoch(*_hlc(b), 5, 3, 3), lambda b: talib.STOCH(*_hlc(b)), False),
    "stochf": (
        lambda b: ti.stochf(*_hlc(b), 14, 3),
        lambda b: talib.STOCHF(*_hlc(b), 14, 3),
        False,
    ),
    "stochrsi": (
        lambda b: ti.stochrsi(b["close"], 14, 5, 3),
        lambda b: talib.STOCHRSI(b["close"], 14, 5, 3),
        False,
    ),
    "cci": (lambda b: ti.cci(*_hlc(b), 14), lambda b: talib.CCI(*_hlc(b), 14), False),
    "willr": (lambda b: ti.willr(*_hlc(b), 14), lambda b: talib.WILLR(*_hlc(b), 14), False),
    "roc": (lambda b: ti.roc(b["close"], 10), lambda b: talib.ROC(b["close"], 10), False),
    "mom": (lambda b: ti.mom(b["close"], 10), lambda b: talib.MOM(b["close"], 10), False),
    "sar": (
        lambda b: ti.sar(b["high"], b["low"], 0.02, 0.2),
        lambda b: talib.SAR(b["high"], b["low"], 0.02, 0.2),
        False,
    ),
    "aroon": (
        lambda b: ti.aroon(b["high"], b["low"], 14),
        lambda b: talib.AROON(b["high"], b["low"], 14),
        False,
    ),
    "linearreg_slope": (
        lambda b: ti.linearreg_slope(b["close"], 14),
        lambda b: talib.LINEARREG_SLOPE(b["close"], 14),
        False,
    ),
    "obv": (
        lambda b: ti.obv(b["close"], b["volume"]),
        lambda b: talib.OBV(b["close"], b["volume"]),
        True,
    ),
    "mfi": (
        lambda b: ti.mfi(*_hlc(b), b["volume"], 14),
        lambda b: talib.MFI(*_hlc(b), b["volume"], 14),
        True,
    ),
}


def assert_same_series(actual: np.ndarray, desired: np.ndarray, label: str) -> None:
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(desired), err_msg=f"{label}: NaNs")
    valid = ~np.isnan(desired)
    assert valid.any(), f"{label}: nothing to compare"
    scale = float(np.max(np.abs(desired[valid])))
    np.testing.assert_allclose(
        actual[valid], desired[valid], rtol=1e-9, atol=1e-9 * scale, err_msg=label
    )


@pytest.mark.parametrize("dataset", ["btc_1m", "spy_daily", "eurusd_1h"])
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_matches_talib(datasets: dict[str, Bars], dataset: str, name: str) -> None:
    ours, reference, needs_volume = PAIRS[name]
    bars = datasets[dataset]
    if needs_volume and "volume" not in bars:
        pytest.skip(f"{dataset} has no volume")
    actual = ours(bars)
    desired = reference(bars)
    if isinstance(desired, tuple):
        assert len(actual) == len(desired)
        for i, (a, d) in enumerate(zip(actual, desired, strict=True)):
            assert_same_series(a, d, f"{name}[{i}] on {dataset}")
    else:
        assert_same_series(actual, desired, f"{name} on {dataset}")
