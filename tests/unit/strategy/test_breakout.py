"""Momentum breakout on real 1h bars: every entry satisfies the three conditions at its signal
bar, no qualifying bar is missed while flat, and every exit is the ATR stop of the bracket.

The conditions are recomputed independently with numpy (rolling max of the previous highs,
mean of the previous volumes) and TA-Lib's ATR.
"""

from __future__ import annotations

import numpy as np
import pytest
import talib
from numpy.lib.stride_tricks import sliding_window_view
from tests.conftest import SHARED_DATA

from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import BarType
from ttquant.model.enums import OrderSide
from ttquant.model.instruments import spot
from ttquant.strategy.library.breakout import Breakout
from ttquant.strategy.registry import builtin_strategies

BTC_1H = SHARED_DATA / "bars_1h_1d" / "binance_spot_BTCUSDT_1h_until2024.csv.gz"
START, END = 1_640_995_200 * 10**9, 1_704_067_200 * 10**9  # 2022-01-01 .. 2024-01-01
SIZE = 0.25
LOOKBACK, THRESHOLD, VOL_MULT, ATR_N, ATR_MULT = 24, 0.2, 1.5, 14, 2.0


@pytest.fixture(scope="module")
def bars(shared_data: object) -> OHLCV:
    return load_ohlcv(BTC_1H).slice_time(START, END)


def _conditions(b: OHLCV) -> np.ndarray:
    n = len(b)
    prev_high = np.full(n, np.nan)
    prev_vol = np.full(n, np.nan)
    prev_high[LOOKBACK:] = sliding_window_view(b.high, LOOKBACK).max(axis=1)[:-1]
    prev_vol[LOOKBACK:] = sliding_window_view(b.volume, LOOKBACK).mean(axis=1)[:-1]
    atr = talib.ATR(b.high, b.low, b.close, ATR_N)
    with np.errstate(invalid="ignore"):
        return (
            (b.close > prev_high * (1 + THRESHOLD / 100))
            & (b.volume > VOL_MULT * prev_vol)
            & ~np.isnan(atr)
        )


def test_entries_are_exactly_the_qualifying_bars_while_flat(bars: OHLCV) -> None:
    engine = BacktestEngine()
    engine.add_venue("BINANCE", starting_balances={"USDT": 1_000_000.0})
    inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
    engine.add_instrument(inst)
    b = bars
    engine.add_ohlcv(BarType.time(inst.id, "1h"), b)
    engine.add_strategy(
        Breakout(
            lookback=LOOKBACK,
            threshold_pct=THRESHOLD,
            volume_multiple=VOL_MULT,
            atr_period=ATR_N,
            atr_mult=ATR_MULT,
            size=SIZE,
        )
    )
    engine.run()
    fills = engine.execution.fills
    idx = [int(np.searchsorted(b.ts, f.ts_event)) for f in fills]
    # fills alternate: entry buy (at the open after the signal), exit sell (the stop)
    entries = [(i, f) for i, f in zip(idx, fills, strict=True) if f.side is OrderSide.BUY]
    exits = [(i, f) for i, f in zip(idx, fills, strict=True) if f.side is OrderSide.SELL]
    assert [f.side for f in fills] == [OrderSide.BUY, OrderSide.SELL] * len(exits) + [
        OrderSide.BUY
    ] * (len(entries) - len(exits))
    assert all(f.last_qty == SIZE for f in fills)
    assert len(entries) > 30

    cond = _conditions(b)
    atr = talib.ATR(b.high, b.low, b.close, ATR_N)
    held = np.zeros(len(b), dtype=bool)  # a position is open at the bar's close
    for k, (e, entry) in enumerate(entries):
        assert entry.last_px == b.open[e]  # market entry at the open after the signal bar
        signal = e - 1
        assert cond[signal], f"entry at bar {e} without its three conditions at bar {signal}"
        if k < len(exits):
            x, exit_fill = exits[k]
            stop = inst.round_price(b.close[signal] - ATR_MULT * atr[signal])
            # the stop fills at its price, or at the open when the market gaps through it
            assert exit_fill.last_px == pytest.approx(min(stop, b.open[x]), abs=1e-9)
            order = engine.cache.order(exit_fill.client_order_id)
            assert order is not None and order.trigger_price == stop
            assert b.low[x] <= stop and (x == e or b.low[e:x].min() > stop)
            held[e:x] = True
        else:
            held[e:] = True
    signals = {e - 1 for e, _ in entries}
    missed = sorted(set(np.flatnonzero(cond[:-1] & ~held[:-1])) - signals)
    assert missed == []
    assert signals <= set(np.flatnonzero(cond & ~held))


def test_take_profit_is_placed_from_the_signal_bar(bars: OHLCV) -> None:
    engine = BacktestEngine()
    engine.add_venue("BINANCE", starting_balances={"USDT": 1_000_000.0})
    inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
    engine.add_instrument(inst)
    b = bars.slice_time(START, START + 120 * 86_400 * 10**9)
    engine.add_ohlcv(BarType.time(inst.id, "1h"), b)
    engine.add_strategy(Breakout(lookback=LOOKBACK, take_profit_atr=3.0, size=SIZE))
    engine.run()
    atr = talib.ATR(b.high, b.low, b.close, 14)
    tps = [o for o in engine.cache.orders.values() if o.exit_reason == "take_profit"]
    assert tps
    for tp in tps:
        entry = engine.cache.order(tp.parent_order_id or "")
        assert entry is not None
        signal = int(np.searchsorted(b.ts + 3_600_000_000_000, entry.ts_init))
        assert tp.price == inst.round_price(b.close[signal] + 3.0 * atr[signal])


def test_registered() -> None:
    assert builtin_strategies()["breakout"] is Breakout
