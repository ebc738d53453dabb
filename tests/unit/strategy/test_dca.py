"""DCA strategy: a buy of a fixed quote amount at every interval, and the take-profit rule.

Real data: Binance BTC/USDT 1h bars of 2023 (from ~16.5k to ~42k: the take-profit fires often).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ttquant.core.errors import ConfigError
from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import BarType
from ttquant.model.enums import AccountType, OrderSide, OrderType
from ttquant.model.events import OrderFilled
from ttquant.model.instruments import spot
from ttquant.strategy.library.dca import DCA
from ttquant.strategy.registry import builtin_strategies

BTC_1H = Path("bars_1h_1d") / "binance_spot_BTCUSDT_1h_until2024.csv.gz"
START = 1_672_531_200 * 10**9  # 2023-01-01
END = 1_704_067_200 * 10**9  # 2024-01-01
HOUR = 3_600 * 10**9
DAY = 24 * HOUR
LOT = 1e-5
AMOUNT = 1_000.0


@pytest.fixture(scope="module")
def year_2023(shared_data: Path) -> OHLCV:
    bars = load_ohlcv(shared_data / BTC_1H).slice_time(START, END)
    assert np.count_nonzero(np.diff(bars.ts) != HOUR) == 1  # one hour is missing (an outage)
    return bars


def _run(bars: OHLCV, **params: object) -> list[OrderFilled]:
    engine = BacktestEngine()
    engine.add_venue(
        "BINANCE", account_type=AccountType.CASH, starting_balances={"USDT": 1_000_000.0}
    )
    inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=LOT)
    engine.add_instrument(inst)
    engine.add_ohlcv(BarType.time(inst.id, "1h"), bars)
    engine.add_strategy(DCA(**{"amount": AMOUNT, **params}))
    engine.run()
    assert all(o.order_type is OrderType.MARKET for o in engine.cache.orders.values())
    return list(engine.execution.fills)


def _lot(amount: float, price: float) -> float:
    return round(math.floor(amount / price / LOT + 1e-9) * LOT, 5)


def _expected_buys(bars: OHLCV, interval: int) -> list[tuple[int, float, float]]:
    """(time, quantity, price) of every scheduled buy, computed from the bars alone.

    The schedule starts when the first bar closes. A buy sent at time T is sized with the last
    close known then (bars closed before T: a bar closing exactly at T is delivered after the
    timer) and fills at the open of the first bar that opens at or after T.
    """
    ts = bars.ts
    out = []
    for t in range(int(ts[0]) + HOUR + interval, int(ts[-1]) + 1, interval):
        known = int(np.searchsorted(ts + HOUR, t, side="left")) - 1
        fill = int(np.searchsorted(ts, t, side="left"))
        out.append((int(ts[fill]), _lot(AMOUNT, float(bars.close[known])), float(bars.open[fill])))
    return out


def test_registered_and_validated() -> None:
    assert builtin_strategies()["dca"] is DCA
    with pytest.raises(ConfigError, match=r"must be >= 0\.0"):
        DCA(take_profit_pct=-1.0)


@pytest.mark.parametrize("interval", ["1d", "7d", "13h"])
def test_buys_the_amount_exactly_at_each_interval(year_2023: OHLCV, interval: str) -> None:
    fills = _run(year_2023, interval=interval)
    step = {"1d": DAY, "7d": 7 * DAY, "13h": 13 * HOUR}[interval]
    got = [(f.ts_event, f.last_qty, f.last_px) for f in fills]
    assert all(f.side is OrderSide.BUY for f in fills)
    assert got == _expected_buys(year_2023, step)
    assert len(got) == (int(year_2023.ts[-1] - year_2023.ts[0]) - HOUR) // step


def test_take_profit_sells_everything_when_a_close_clears_the_average(year_2023: OHLCV) -> None:
    pct = 10.0
    fills = _run(year_2023, interval="1d", take_profit_pct=pct)
    buys = [f for f in fills if f.side is OrderSide.BUY]
    sells = [f for f in fills if f.side is OrderSide.SELL]
    assert [(f.ts_event, f.last_qty, f.last_px) for f in buys] == _expected_buys(year_2023, DAY)
    assert len(sells) >= 3
    # replay the bars: hold the buys filled so far; a close at or above avg * 1.1 must be
    # followed by a sale of everything held (and of a buy filled at the same open) at the
    # next open; no other sale may happen
    buy_at = {f.ts_event: f for f in buys}
    expected_sells = []
    qty = cost = 0.0
    pending_sell = False
    for i, t in enumerate(year_2023.ts.tolist()):
        new_buy = buy_at.get(t)
        if pending_sell:
            extra = new_buy.last_qty if new_buy else 0.0
            expected_sells.append((t, round(qty + extra, 5), float(year_2023.open[i])))
            qty = cost = 0.0
            pending_sell = False
        elif new_buy is not None:
            qty += new_buy.last_qty
            cost += new_buy.last_qty * new_buy.last_px
        if qty > 0 and year_2023.close[i] >= cost / qty * (1 + pct / 100):
            pending_sell = True
    got = [(f.ts_event, round(f.last_qty, 5), f.last_px) for f in sells]
    assert got == expected_sells
