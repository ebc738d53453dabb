"""Turtle breakout on real 1h bars: unit sizes from ATR and equity, pyramiding every
``add_atr × N`` from the last fill, at most ``max_units``, exits on the opposite channel.

The test replays the rules independently (numpy channels of the previous bars, TA-Lib's ATR,
the equity the engine reports at each bar's close, fills at the next open) and requires the
engine's fills to be exactly the orders that replay produces.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import talib
from numpy.lib.stride_tricks import sliding_window_view
from tests.conftest import SHARED_DATA

from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import BarType
from ttquant.model.enums import OrderSide, OrderStatus
from ttquant.model.instruments import Instrument, spot
from ttquant.strategy.library.turtle import Turtle
from ttquant.strategy.registry import builtin_strategies

BTC_1H = SHARED_DATA / "bars_1h_1d" / "binance_spot_BTCUSDT_1h_until2024.csv.gz"
START, END = 1_640_995_200 * 10**9, 1_704_067_200 * 10**9  # 2022-01-01 .. 2024-01-01
P: dict[str, Any] = {
    "entry_period": 55,
    "exit_period": 20,
    "atr_period": 20,
    "risk_pct": 0.5,
    "max_units": 4,
}


@pytest.fixture(scope="module")
def bars(shared_data: object) -> OHLCV:
    return load_ohlcv(BTC_1H).slice_time(START, END)


def _prev(x: np.ndarray, n: int, how: str) -> np.ndarray:
    """max/min of the ``n`` values before each index (NaN until defined)."""
    out = np.full(len(x), np.nan)
    win = sliding_window_view(x, n)
    out[n:] = (win.max(axis=1) if how == "max" else win.min(axis=1))[:-1]
    return out


def _replay(
    b: OHLCV, equity: np.ndarray, inst: Instrument, add_atr: float, long_short: bool
) -> list[tuple[int, float]]:
    entry_hi, entry_lo = _prev(b.high, P["entry_period"], "max"), _prev(b.low, 55, "min")
    exit_hi, exit_lo = _prev(b.high, P["exit_period"], "max"), _prev(b.low, 20, "min")
    atr = talib.ATR(b.high, b.low, b.close, P["atr_period"])
    orders: list[tuple[int, float]] = []
    d, units, pos, trade_n, last_px = 0, 0, 0.0, math.nan, math.nan

    def unit(t: int) -> float:
        return inst.round_quantity(P["risk_pct"] / 100 * equity[t] / atr[t])

    for t in range(len(b) - 1):  # an order fills at bar t + 1's open
        c = b.close[t]
        if (d > 0 and c < exit_lo[t]) or (d < 0 and c > exit_hi[t]):
            orders.append((t + 1, round(-pos, 9)))
            d, units, pos = 0, 0, 0.0
            continue
        if d != 0:
            if units < P["max_units"] and d * (c - last_px) >= add_atr * trade_n:
                q = unit(t)
                units, pos, last_px = units + 1, pos + d * q, b.open[t + 1]
                orders.append((t + 1, round(d * q, 9)))
            continue
        new = 1 if c > entry_hi[t] else -1 if long_short and c < entry_lo[t] else 0
        if new and atr[t] > 0:
            q = unit(t)
            d, units, pos, trade_n, last_px = new, 1, new * q, atr[t], b.open[t + 1]
            orders.append((t + 1, round(new * q, 9)))
    return orders


def _run(b: OHLCV, **params: Any) -> tuple[list[tuple[int, float]], np.ndarray, Instrument]:
    engine = BacktestEngine()
    # 10x leverage: one unit risks 0.5 % of equity per N, which on hourly bars is > 1x notional
    engine.add_venue("BINANCE", starting_balances={"USDT": 100_000.0}, leverage=10.0)
    # a lot of 0.001: with 0.00001, summed units can fall one lot short of their float sum and
    # Instrument.round_quantity (absolute tolerance 1e-9 lots) then leaves one lot open on exit
    inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-3)
    engine.add_instrument(inst)
    engine.add_ohlcv(BarType.time(inst.id, "1h"), b)
    engine.add_strategy(Turtle(**P, **params))
    curve = engine.run()
    assert len(curve.ts) == len(b)  # one equity sample per bar close
    got = []
    for f in engine.execution.fills:
        i = int(np.searchsorted(b.ts, f.ts_event))
        assert f.last_px == b.open[i]
        got.append((i, round(f.last_qty * (1 if f.side is OrderSide.BUY else -1), 9)))
    assert len({f.client_order_id for f in engine.execution.fills}) == len(got)
    assert all(o.status is OrderStatus.FILLED for o in engine.cache.orders.values())
    return got, curve.equity, inst


@pytest.mark.parametrize(("add_atr", "long_short"), [(0.5, False), (1.0, True)])
def test_sizing_pyramiding_and_exits_follow_the_rules(
    bars: OHLCV, add_atr: float, long_short: bool
) -> None:
    got, equity, inst = _run(bars, add_atr=add_atr, long_short=long_short)
    assert got == _replay(bars, equity, inst, add_atr, long_short)
    # the rules did what they are for: pyramids to the cap, flat after every exit
    pos, units, most, flats, shorts = 0.0, 0, 0, 0, 0
    for _, q in got:
        opening = pos == 0 or (pos > 0) == (q > 0)
        shorts += pos == 0 and q < 0
        pos = round(pos + q, 9)
        units = units + 1 if opening else 0
        most = max(most, units)
        flats += pos == 0
        assert opening or pos == 0  # an exit always closes the whole position
    assert most == P["max_units"] and flats > 20
    assert (shorts > 0) == long_short


def test_unit_risks_risk_pct_of_equity_per_atr(bars: OHLCV) -> None:
    got, equity, _ = _run(bars, add_atr=0.5)
    atr = talib.ATR(bars.high, bars.low, bars.close, 20)
    first, q = got[0]
    risk = q * atr[first - 1] / equity[first - 1]  # a one-ATR move on the unit, in equity
    assert 0.005 - 1e-3 * atr[first - 1] / equity[first - 1] <= risk <= 0.005


def test_registered() -> None:
    assert builtin_strategies()["turtle"] is Turtle
