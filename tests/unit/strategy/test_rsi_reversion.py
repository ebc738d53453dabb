"""RSI reversion: every order is placed exactly when TA-Lib's RSI says so, on real 1h bars.

The expected side (+1/0/-1) is recomputed bar by bar from ``talib.RSI`` with the rules of the
docstring; each change of side at bar ``t`` must be one market order filled at bar ``t + 1``'s
open for ``(new - old) × size``, and there must be no other order.
"""

from __future__ import annotations

import numpy as np
import pytest
import talib
from tests.unit.strategy._realdata import btc_hours, signed_fills

from ttquant.data.bars import OHLCV
from ttquant.strategy.library.rsi_reversion import RSIReversion
from ttquant.strategy.registry import builtin_strategies
from ttquant.strategy.strategy import Strategy

SIZE = 0.5


@pytest.fixture(scope="module")
def bars(shared_data: object) -> OHLCV:
    return btc_hours()


def _orders(strategy: Strategy, bars: OHLCV) -> list[tuple[int, float]]:
    return signed_fills(strategy, bars)[0]


def _expected(
    close: np.ndarray, period: int, low: float, high: float, exit_: str, long_short: bool
) -> list[tuple[int, float]]:
    r = talib.RSI(close, timeperiod=period)
    side, out = 0, []
    for t in range(len(close) - 1):  # a signal on the last bar never fills
        if np.isnan(r[t]):
            continue
        new = side
        if r[t] < low:
            new = 1
        elif r[t] > high:
            new = -1 if long_short else 0
        elif exit_ == "midline" and ((side > 0 and r[t] >= 50) or (side < 0 and r[t] <= 50)):
            new = 0
        if new != side:
            out.append((t + 1, round((new - side) * SIZE, 9)))
            side = new
    return out


@pytest.mark.parametrize(
    ("exit_", "long_short"), [("midline", False), ("midline", True), ("band", True)]
)
def test_orders_follow_talib_rsi(bars: OHLCV, exit_: str, long_short: bool) -> None:
    strategy = RSIReversion(
        period=14, oversold=25, overbought=75, exit=exit_, long_short=long_short, size=SIZE
    )
    got = _orders(strategy, bars)
    want = _expected(bars.close, 14, 25.0, 75.0, exit_, long_short)
    assert len(want) > 50  # the rule fires often on two years of hourly bars
    assert got == want
    if long_short:
        assert any(q < -SIZE / 2 for _, q in got)  # it did go short
        positions = np.cumsum([q for _, q in got])
        assert set(np.round(positions, 9)) <= {-SIZE, 0.0, SIZE}


def test_long_only_never_shorts(bars: OHLCV) -> None:
    got = _orders(RSIReversion(exit="band", size=SIZE), bars)
    positions = np.cumsum([q for _, q in got])
    assert len(got) > 10
    assert set(np.round(positions, 9)) <= {0.0, SIZE}


def test_registered_and_validated() -> None:
    assert builtin_strategies()["rsi_reversion"] is RSIReversion
    spec = RSIReversion.params_spec
    assert spec["exit"].param.choices == ("midline", "band")
    assert spec["oversold"].param.max == 50.0
