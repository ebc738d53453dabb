"""MACD: the cross mode against TA-Lib's MACD on real 1h bars; the divergence mode on hand-made
bars whose swings and MACD values are read off below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import talib
from tests.conftest import SHARED_DATA

from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.engine.backtest import BacktestEngine
from ttquant.indicators import macd
from ttquant.model.data import BarType
from ttquant.model.enums import OrderSide
from ttquant.model.instruments import spot
from ttquant.strategy.library.macd_cross import MACDCross
from ttquant.strategy.registry import builtin_strategies

BTC_1H = SHARED_DATA / "bars_1h_1d" / "binance_spot_BTCUSDT_1h_until2024.csv.gz"
START, END = 1_640_995_200 * 10**9, 1_704_067_200 * 10**9  # 2022-01-01 .. 2024-01-01
HOUR = 3_600_000_000_000
SIZE = 0.5


@pytest.fixture(scope="module")
def bars(shared_data: object) -> OHLCV:
    return load_ohlcv(BTC_1H).slice_time(START, END)


def _orders(
    strategy: MACDCross,
    ts: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    v: np.ndarray,
) -> list[tuple[int, float]]:
    """(bar index, signed quantity) of every fill; each is a whole order at the bar's open."""
    engine = BacktestEngine()
    engine.add_venue("BINANCE", starting_balances={"USDT": 1_000_000.0}, leverage=2.0)
    inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
    engine.add_instrument(inst)
    engine.add_bars(BarType.time(inst.id, "1h"), ts, o, h, lo, c, v)
    engine.add_strategy(strategy)
    engine.run()
    out = []
    for fill in engine.execution.fills:
        i = int(np.searchsorted(ts, fill.ts_event))
        assert ts[i] == fill.ts_event
        assert fill.last_px == o[i]  # market orders fill at the next bar's open
        out.append((i, round(fill.last_qty * (1 if fill.side is OrderSide.BUY else -1), 9)))
    assert len({f.client_order_id for f in engine.execution.fills}) == len(out)  # one fill each
    return out


def _run_real(strategy: MACDCross, b: OHLCV) -> list[tuple[int, float]]:
    return _orders(strategy, b.ts, b.open, b.high, b.low, b.close, b.volume)


def _expected_cross(close: np.ndarray, long_only: bool) -> list[tuple[int, float]]:
    hist = talib.MACD(close, 12, 26, 9)[2]
    pos, out = 0.0, []
    for t in range(1, len(close) - 1):  # a signal on the last bar never fills
        if hist[t - 1] < 0 < hist[t]:
            target = SIZE
        elif hist[t - 1] > 0 > hist[t]:
            target = 0.0 if long_only else -SIZE
        else:
            continue
        if target != pos:
            out.append((t + 1, round(target - pos, 9)))
            pos = target
    return out


@pytest.mark.parametrize("long_only", [True, False])
def test_cross_mode_follows_talib_macd(bars: OHLCV, long_only: bool) -> None:
    got = _run_real(MACDCross(long_only=long_only, size=SIZE), bars)
    want = _expected_cross(bars.close, long_only)
    assert len(want) > 500
    assert got == want


# Hand-made bars: open = close, high/low = close ± 0.5. MACD(3, 6, 2), swings of 2 bars a side.
# Swing lows at bar 13 (low 79.5, MACD -5.68) and bar 23 (low 78.5, MACD -1.91): a lower low
# with a higher MACD, confirmed at the close of bar 25, so the buy fills at bar 26's open (86).
# The swing highs (bars 8 and 16) make a lower high: no bearish divergence.
DIVERGENCE = [100, 101, 102, 103, 104, 105, 106, 107, 108, 104, 98, 91, 85, 80, 84, 88, 90]
DIVERGENCE += [89, 87, 85, 83, 81, 80, 79, 82, 86, 90, 94, 98]
# The same first swing, then a fast fall to a swing low at bar 23 (low 43.5, MACD -7.36): a
# lower low with a lower MACD, no divergence.
NO_DIVERGENCE = [*DIVERGENCE[:17], 82, 72, 62, 54, 48, 45, 44, 47, 51, 55, 59]
PARAMS: dict[str, Any] = {
    "fast": 3,
    "slow": 6,
    "signal": 2,
    "mode": "divergence",
    "swing": 2,
    "size": SIZE,
}


def _run_hand(closes: Sequence[float], **params: Any) -> list[tuple[int, float]]:
    c = np.array(closes, dtype=float)
    ts = 1_704_067_200_000_000_000 + np.arange(len(c), dtype=np.int64) * HOUR
    return _orders(MACDCross(**params), ts, c, c + 0.5, c - 0.5, c, np.full(len(c), 10.0))


def test_hand_made_bars_are_what_the_comments_say() -> None:
    line = macd(np.array(DIVERGENCE, dtype=float), 3, 6, 2).macd
    assert round(line[13], 2) == -5.68 and round(line[23], 2) == -1.91
    low = np.array(DIVERGENCE) - 0.5
    assert low[23] < low[13] and low[13] == min(low[11:16]) and low[23] == min(low[21:26])
    steep = macd(np.array(NO_DIVERGENCE, dtype=float), 3, 6, 2).macd
    assert NO_DIVERGENCE[23] == min(NO_DIVERGENCE[21:26]) < 80
    assert round(steep[23], 2) == -7.36


def test_bullish_divergence_buys_after_the_swing_is_confirmed() -> None:
    assert _run_hand(DIVERGENCE, **PARAMS) == [(26, SIZE)]


def test_bearish_divergence_sells_short_in_the_mirror_image() -> None:
    mirror = [200.0 - x for x in DIVERGENCE]
    assert _run_hand(mirror, **PARAMS, long_only=False) == [(26, -SIZE)]
    assert _run_hand(mirror, **PARAMS, long_only=True) == []  # nothing to close


def test_lower_low_with_lower_macd_is_no_signal() -> None:
    assert _run_hand(NO_DIVERGENCE, **PARAMS) == []


def test_swing_needs_both_sides() -> None:
    # The data stop one bar before the second swing is confirmed: no trade yet.
    assert _run_hand(DIVERGENCE[:25], **PARAMS) == []


def test_registered() -> None:
    assert builtin_strategies()["macd_cross"] is MACDCross
