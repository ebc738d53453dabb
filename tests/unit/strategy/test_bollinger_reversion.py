"""Bollinger reversion: every order is placed exactly when TA-Lib's BBANDS say so, on real 1h bars.

The expected side (+1/0/-1) is recomputed bar by bar from ``talib.BBANDS`` (SMA, population
deviation) with the rules of the docstring; each change of side at bar ``t`` must be one market
order filled at bar ``t + 1``'s open for ``(new - old) × size``, and there must be no other order.
"""

from __future__ import annotations

import numpy as np
import pytest
import talib
from tests.unit.strategy._realdata import btc_hours, signed_fills

from ttquant.data.bars import OHLCV
from ttquant.strategy.library.bollinger import BollingerReversion
from ttquant.strategy.registry import builtin_strategies
from ttquant.strategy.strategy import Strategy

SIZE = 0.5


@pytest.fixture(scope="module")
def bars(shared_data: object) -> OHLCV:
    return btc_hours()


def _orders(strategy: Strategy, bars: OHLCV) -> list[tuple[int, float]]:
    fills, engine = signed_fills(strategy, bars)
    assert not engine.cache.open_orders()  # nothing rests
    return fills


def _expected(
    close: np.ndarray, period: int, nbdev: float, long_short: bool
) -> list[tuple[int, float]]:
    upper, middle, lower = talib.BBANDS(close, period, nbdev, nbdev, talib.MA_Type.SMA)
    side, out = 0, []
    for t in range(len(close) - 1):  # a signal on the last bar never fills
        if np.isnan(middle[t]):
            continue
        c, new = close[t], side
        if c < lower[t]:
            new = 1
        elif c > upper[t]:
            new = -1 if long_short else 0
        elif (side > 0 and c >= middle[t]) or (side < 0 and c <= middle[t]):
            new = 0
        if new != side:
            out.append((t + 1, round((new - side) * SIZE, 9)))
            side = new
    return out


@pytest.mark.parametrize("long_short", [False, True])
def test_orders_follow_talib_bbands(bars: OHLCV, long_short: bool) -> None:
    strategy = BollingerReversion(period=20, nbdev=2.0, long_short=long_short, size=SIZE)
    got = _orders(strategy, bars)
    want = _expected(bars.close, 20, 2.0, long_short)
    assert len(want) > 100
    assert got == want
    positions = set(np.round(np.cumsum([q for _, q in got]), 9))
    assert positions == ({-SIZE, 0.0, SIZE} if long_short else {0.0, SIZE})


def test_wider_bands_trade_less(bars: OHLCV) -> None:
    narrow = _orders(BollingerReversion(period=20, nbdev=1.5, size=SIZE), bars)
    wide = _orders(BollingerReversion(period=20, nbdev=3.0, size=SIZE), bars)
    assert wide == _expected(bars.close, 20, 3.0, False)
    assert 0 < len(wide) < len(narrow)


def test_registered() -> None:
    assert builtin_strategies()["bollinger_reversion"] is BollingerReversion
