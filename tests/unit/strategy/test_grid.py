"""Grid strategy: its orders sit exactly on the grid and every completed lot earns one level gap.

Real data: Binance BTC/USDT 1-minute bars of July 2023, when BTC ranged between 28.9k and 31.8k.
Exact cases (width around the start, stop-loss, a counter order already marketable) use
hand-made bars.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import BarType
from ttquant.model.enums import AccountType, LiquiditySide, OrderSide, OrderType
from ttquant.model.events import OrderFilled
from ttquant.model.instruments import spot
from ttquant.model.orders import Order
from ttquant.strategy.library.grid import Grid
from ttquant.strategy.registry import builtin_strategies
from ttquant.venues.sim.models import FeeModel

BTC_1M = Path("bars_1m") / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"
START = 1_688_169_600 * 10**9  # 2023-07-01
END = 1_690_848_000 * 10**9  # 2023-08-01
FEE = 0.001
QTY = 0.01


@pytest.fixture(scope="module")
def ranging(shared_data: Path) -> OHLCV:
    return load_ohlcv(shared_data / BTC_1M).slice_time(START, END)


def _run(bars: OHLCV, step: str = "1m", **params: object) -> tuple[BacktestEngine, Grid]:
    engine = BacktestEngine()
    engine.add_venue(
        "BINANCE",
        account_type=AccountType.CASH,
        starting_balances={"USDT": 100_000.0},
        fee_model=FeeModel(maker=FEE, taker=FEE),
    )
    inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
    engine.add_instrument(inst)
    engine.add_ohlcv(BarType.time(inst.id, step), bars)
    strategy = Grid(**{"order_size": QTY, **params})
    engine.add_strategy(strategy)
    engine.run()
    return engine, strategy


def _hand_made(rows: list[tuple[float, float, float, float]]) -> OHLCV:
    """1-minute bars from 2024-01-01 with the given open, high, low, close."""
    a = np.array(rows, dtype=float)
    ts = 1_704_067_200 * 10**9 + np.arange(len(rows), dtype=np.int64) * 60 * 10**9
    return OHLCV(ts, a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.full(len(rows), 1e3), "hand-made")


def _orders(engine: BacktestEngine) -> list[Order]:
    return sorted(engine.cache.orders.values(), key=lambda o: int(o.client_order_id.rsplit("-")[1]))


def _check_grid_mechanics(
    engine: BacktestEngine, levels: list[float], first_close: float
) -> list[OrderFilled]:
    """The rules every grid obeys, checked order by order and fill by fill."""
    orders = _orders(engine)
    by_id = {o.client_order_id: o for o in orders}
    fills = list(engine.execution.fills)
    # every order is a limit order resting exactly on a grid level
    assert all(o.order_type is OrderType.LIMIT and o.price in levels for o in orders)
    # the opening orders: one buy per level strictly below the first close, nothing else
    first_ts = orders[0].ts_init
    opening = [o for o in orders if o.ts_init == first_ts]
    assert [(o.side, o.price, o.quantity) for o in opening] == [
        (OrderSide.BUY, p, QTY) for p in levels if p < first_close
    ]
    # every later order is the counter order of exactly one fill, placed when that fill was
    # reported: a sell one level above a bought lot, a buy one level below a sold lot
    later = orders[len(opening) :]
    assert len(later) == len(fills)
    for fill, order in zip(fills, later, strict=True):
        filled = by_id[fill.client_order_id]
        k = levels.index(filled.price)
        assert fill.last_px == filled.price  # filled at its own level (maker)
        assert fill.liquidity_side is LiquiditySide.MAKER
        assert order.ts_init == fill.ts_init
        assert order.side is fill.side.opposite
        assert order.quantity == fill.last_qty
        assert order.price == levels[k + 1 if fill.side is OrderSide.BUY else k - 1]
    return fills


def test_registered() -> None:
    assert builtin_strategies()["grid"] is Grid


def test_arithmetic_grid_round_trips_earn_exactly_one_gap(ranging: OHLCV) -> None:
    engine, strategy = _run(ranging, lower=28_125.0, upper=31_125.0, levels=25)
    levels = [28_125.0 + 125.0 * k for k in range(25)]
    assert strategy.grid == levels
    fills = _check_grid_mechanics(engine, levels, float(ranging.close[0]))
    trips = engine.cache.round_trips
    assert len(fills) > 200 and len(trips) >= 10  # a real test: the range was traded many times
    for trip in trips:
        # a flat-to-flat trade pairs each bought lot with its sale one gap higher
        assert trip.exit_price - trip.entry_price == pytest.approx(125.0, abs=1e-9)
        fees = FEE * trip.quantity * (trip.entry_price + trip.exit_price)
        assert trip.fees == pytest.approx(fees, rel=1e-12)
        assert trip.pnl == pytest.approx(125.0 * trip.quantity - trip.fees, abs=1e-9)
    # what the trades did not close is still held: the buys not yet sold
    held = sum(f.last_qty * (1 if f.side is OrderSide.BUY else -1) for f in fills)
    assert engine.cache.position("grid", strategy.instrument).quantity == pytest.approx(held)


def test_geometric_grid_sells_each_lot_one_ratio_higher(ranging: OHLCV) -> None:
    engine, strategy = _run(ranging, lower=28_000.0, upper=32_000.0, levels=27, spacing="geometric")
    raw = 28_000.0 * (32_000.0 / 28_000.0) ** (np.arange(27) / 26)
    levels = [round(float(p), 2) for p in raw]
    assert strategy.grid == levels
    assert len(set(np.round(np.diff(raw) / raw[:-1], 12))) == 1  # equal ratios
    fills = _check_grid_mechanics(engine, levels, float(ranging.close[0]))
    assert len(fills) > 150
    # each flat-to-flat trade earns, before fees, one gap (level above minus level below) per
    # lot sold in it: the fills are split into trades by replaying the position
    trips = engine.cache.round_trips
    assert len(trips) > 5
    gross, held, expected = 0.0, 0.0, []
    for fill in fills:
        if fill.side is OrderSide.SELL:
            k = levels.index(fill.last_px)
            gross += fill.last_qty * (levels[k] - levels[k - 1])
        held = round(held + fill.last_qty * (1 if fill.side is OrderSide.BUY else -1), 8)
        if held == 0.0:
            expected.append(gross)
            gross = 0.0
    assert [t.pnl + t.fees for t in trips] == pytest.approx(expected, rel=1e-12)


def test_width_pct_centres_the_grid_on_the_first_close() -> None:
    bars = [(100.0, 101.0, 99.0, 100.0)] * 3
    engine, strategy = _run(_hand_made(bars), width_pct=10.0, levels=5, order_size=1.0)
    assert strategy.grid == [90.0, 95.0, 100.0, 105.0, 110.0]
    # buys only strictly below the start price: 100 itself is not a buy level
    assert sorted(o.price for o in engine.cache.open_orders("grid")) == [90.0, 95.0]


def test_stop_loss_cancels_everything_and_flattens() -> None:
    bars = [
        (100.0, 100.5, 99.5, 100.0),  # 0: grid 90..110 step 5, buys at 95 and 90
        (100.0, 100.0, 94.0, 96.0),  # 1: buy 95 fills -> sell at 100 placed
        (96.0, 96.0, 89.0, 89.5),  # 2: buy 90 fills -> sell 95; close 89.5 <= stop 90
        (88.0, 88.5, 87.0, 88.0),  # 3: market sell of 2 at the open (88)
        (80.0, 120.0, 80.0, 100.0),  # 4: nothing rests any more
    ]
    engine, strategy = _run(
        _hand_made(bars), lower=90.0, upper=110.0, levels=5, order_size=1.0, stop_loss=90.0
    )
    fills = [(f.side, f.last_qty, f.last_px) for f in engine.execution.fills]
    assert fills == [
        (OrderSide.BUY, 1.0, 95.0),
        (OrderSide.BUY, 1.0, 90.0),
        (OrderSide.SELL, 2.0, 88.0),
    ]
    assert strategy.stopped
    assert engine.cache.open_orders("grid") == []
    assert engine.cache.position("grid", strategy.instrument).is_flat
    assert engine.cache.round_trips[-1].exit_reason == "stop_loss"


def test_take_profit_flattens_above_the_range() -> None:
    bars = [
        (100.0, 100.5, 99.5, 100.0),
        (100.0, 100.0, 94.0, 96.0),  # buy 95 fills -> sell 100
        (96.0, 112.0, 96.0, 111.0),  # sell 100 fills (buy 95 placed); close >= take_profit 110
        (111.0, 111.0, 90.0, 91.0),  # the canceled buys at 90/95 must not fill
    ]
    engine, strategy = _run(
        _hand_made(bars), lower=90.0, upper=110.0, levels=5, order_size=1.0, take_profit=110.0
    )
    fills = [(f.side, f.last_px) for f in engine.execution.fills]
    assert fills == [(OrderSide.BUY, 95.0), (OrderSide.SELL, 100.0)]
    assert strategy.stopped and engine.cache.open_orders("grid") == []


def test_counter_order_already_marketable_fills_at_the_next_open() -> None:
    bars = [
        (100.0, 100.5, 99.5, 100.0),  # grid 90..110 step 5: buys at 95 and 90
        (100.0, 102.0, 94.0, 101.0),  # buy 95 fills on the way down; the bar closes above 100
        (101.5, 102.0, 101.0, 101.5),  # the sell at 100 is marketable: fills at the open
    ]
    engine, _ = _run(_hand_made(bars), lower=90.0, upper=110.0, levels=5, order_size=1.0)
    fills = [(f.side, f.last_px, f.liquidity_side) for f in engine.execution.fills]
    assert fills == [
        (OrderSide.BUY, 95.0, LiquiditySide.MAKER),
        (OrderSide.SELL, 101.5, LiquiditySide.TAKER),
    ]
    (trip,) = engine.cache.round_trips
    assert trip.pnl == pytest.approx(6.5 - trip.fees)  # more than the 5.0 gap, never less
