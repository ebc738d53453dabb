"""Streaming classes against the vectorized functions on real bars.

The reference here is the vectorized form, itself checked against TA-Lib or an independent
reference in the other test modules; the two forms share their arithmetic, so they must agree
to rtol 1e-9 (in practice bit for bit) and become ready on the same bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from _cases import ATTRIBUTE, CASES, Case

from ttquant.indicators import REGISTRY

Bars = dict[str, np.ndarray]
ROWS = 3_000  # enough for every warm-up several times over, quick in pure Python


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def vector_outputs(case: Case, bars: Bars) -> dict[str, np.ndarray]:
    result: Any = REGISTRY[case.name].function(*(bars[k] for k in case.inputs), *case.args)
    if isinstance(result, tuple):
        return {field: getattr(result, field) for field in result._fields}
    return {"value": result}


def run_stream(
    case: Case, bars: Bars, fields: list[str]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    indicator = REGISTRY[case.name].streaming(*case.args)
    n = len(bars["close"])
    columns = [bars[k].tolist() for k in case.inputs]
    out = {field: np.empty(n) for field in fields}
    ready = np.empty(n, dtype=bool)
    attrs = [ATTRIBUTE.get((case.name, f), f) for f in fields]
    for i, row in enumerate(zip(*columns, strict=True)):
        value = indicator.update(*row)
        assert same(value, indicator.value)
        for field, attr in zip(fields, attrs, strict=True):
            out[field][i] = getattr(indicator, attr)
        ready[i] = indicator.ready
    return out, ready


def _slice(bars: Bars, n: int) -> Bars:
    return {k: v[:n] for k, v in bars.items()}


@pytest.mark.parametrize("dataset", ["btc_1m", "spy_daily"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_streaming_equals_vectorized(datasets: dict[str, Bars], dataset: str, case: Case) -> None:
    bars = _slice(datasets[dataset], ROWS)
    expected = vector_outputs(case, bars)
    actual, ready = run_stream(case, bars, list(expected))
    for field, want in expected.items():
        got = actual[field]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{field} NaNs")
        valid = ~np.isnan(want)
        np.testing.assert_allclose(got[valid], want[valid], rtol=1e-9, err_msg=field)
    # ready <=> value defined, and it becomes True on the bar the vectorized main line starts.
    value_defined = ~np.isnan(_main_line(case, expected))
    np.testing.assert_array_equal(ready, value_defined)


def _main_line(case: Case, outputs: dict[str, np.ndarray]) -> np.ndarray:
    main = {
        "macd": "macd",
        "stoch": "slowk",
        "stochf": "fastk",
        "stochrsi": "fastk",
        "bbands": "middle",
        "keltner": "middle",
        "donchian": "middle",
        "aroon": "up",
        "supertrend": "supertrend",
        "ichimoku": "kijun",
    }
    return outputs[main.get(case.name, "value")]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reset_restarts_from_scratch(datasets: dict[str, Bars], case: Case) -> None:
    bars = _slice(datasets["spy_daily"], 300)
    indicator = REGISTRY[case.name].streaming(*case.args)
    rows = list(zip(*(bars[k].tolist() for k in case.inputs), strict=True))
    for row in rows[150:]:
        indicator.update(*row)
    indicator.reset()
    assert not indicator.ready and math.isnan(indicator.value)
    for row in rows:
        indicator.update(*row)
    fresh = REGISTRY[case.name].streaming(*case.args)
    for row in rows:
        fresh.update(*row)
    assert same(indicator.value, fresh.value)


@dataclass(frozen=True)
class Bar:
    open: float
    high: float
    low: float
    close: float
    volume: float
    ts_event: int


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_handle_bar_feeds_the_right_fields(datasets: dict[str, Bars], case: Case) -> None:
    bars = _slice(datasets["btc_1m"], 400)
    by_update = REGISTRY[case.name].streaming(*case.args)
    by_bar = REGISTRY[case.name].streaming(*case.args)
    for i in range(400):
        by_update.update(*(bars[k][i].item() for k in case.inputs))
        bar = Bar(
            *(bars[k][i].item() for k in ("open", "high", "low", "close", "volume")),
            ts_event=int(bars["ts_event"][i]),
        )
        assert same(by_bar.handle_bar(bar), by_bar.value)  # type: ignore[arg-type]
        assert same(by_bar.value, by_update.value)


def test_vwap_restarts_each_session() -> None:
    from ttquant.indicators import VWAP

    hour = 3_600 * 10**9
    v = VWAP(session_ns=2 * hour)
    v.update(10.0, 10.0, 10.0, 1.0, 0)
    assert v.update(13.0, 13.0, 13.0, 2.0, hour) == pytest.approx(12.0)  # (10 + 26) / 3
    assert v.update(20.0, 20.0, 20.0, 5.0, 2 * hour) == 20.0  # new session
    assert math.isnan(v.update(5.0, 5.0, 5.0, 0.0, 4 * hour))
    assert not v.ready  # a session without volume has no VWAP yet


def test_sma_running_sum_does_not_drift() -> None:
    from ttquant.indicators import SMA

    sma = SMA(3)
    # Alternating huge and tiny values make a naive running sum lose the tiny ones for good.
    for i in range(30_000):
        sma.update(1e16 if i % 2 == 0 else 1.0)
    for x in (1.0, 2.0, 3.0):
        sma.update(x)
    assert sma.value == 2.0
