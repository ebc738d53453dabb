"""Shared by the rule tests of the bar-by-bar strategies: real hourly bars, one backtest, and
the fills read back as (bar index, signed quantity)."""

from __future__ import annotations

import numpy as np
from tests.conftest import SHARED_DATA

from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import BarType
from ttquant.model.enums import OrderSide
from ttquant.model.instruments import spot
from ttquant.strategy.strategy import Strategy

BTC_1H = SHARED_DATA / "bars_1h_1d" / "binance_spot_BTCUSDT_1h_until2024.csv.gz"
START, END = 1_640_995_200 * 10**9, 1_704_067_200 * 10**9  # 2022-01-01 .. 2024-01-01


def btc_hours() -> OHLCV:
    return load_ohlcv(BTC_1H).slice_time(START, END)


def signed_fills(strategy: Strategy, bars: OHLCV) -> tuple[list[tuple[int, float]], BacktestEngine]:
    """(bar index, signed quantity) of every fill; each is a whole order at the bar's open."""
    engine = BacktestEngine()
    engine.add_venue("BINANCE", starting_balances={"USDT": 1_000_000.0}, leverage=2.0)
    inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
    engine.add_instrument(inst)
    engine.add_ohlcv(BarType.time(inst.id, "1h"), bars)
    engine.add_strategy(strategy)
    engine.run()
    out = []
    for fill in engine.execution.fills:
        i = int(np.searchsorted(bars.ts, fill.ts_event))
        assert bars.ts[i] == fill.ts_event
        assert fill.last_px == bars.open[i]  # market orders fill at the next bar's open
        out.append((i, round(fill.last_qty * (1 if fill.side is OrderSide.BUY else -1), 9)))
    assert len({f.client_order_id for f in engine.execution.fills}) == len(out)  # one fill each
    return out, engine
