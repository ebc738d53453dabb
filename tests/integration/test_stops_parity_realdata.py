"""Native and emulated exits on real data: the same fills, for every kind of exit.

Bars: five days of Binance BTCUSDT 1-minute bars around the FTX collapse (2022-11-07 .. 12),
with maker/taker fees, entries every 90 minutes alternating long and short, and positions the
exits have not closed after 80 minutes closed by the strategy. For each kind the
backtest runs once with exits resting at the venue and once with the manager emulating them,
and every fill must match; each kind must actually have fired many times.

Ticks: Binance spot BTCUSDT trades (2024-08-09). Emulated from trades, an exit is a market order
sent after the crossing trade: with the default fill model it trades at the next trade, as it
would live; with the zero-latency model (``market_fill="close"``) it trades at the crossing
trade itself, like the native stop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import polars as pl
import pytest
from tests.conftest import BTC_1M, SHARED_DATA
from tests.unit.risk._stops_kit import ScheduledEntries, exit_reasons, fill_rows, run_both

from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import BarType
from ttquant.model.instruments import spot
from ttquant.risk.stops import BreakEven, Distance, ExitPlan
from ttquant.venues.sim.models import FeeModel, FillModel

START, END = 1_667_779_200 * 10**9, 1_668_211_200 * 10**9  # 2022-11-07 .. 2022-11-12 UTC
TRADES = SHARED_DATA / "ticks" / "binance_BTC_trades_20240808-09.csv.gz"
ENTRIES = {i: (0.05 if (i // 90) % 2 == 0 else -0.05) for i in range(0, 7200, 90)}

PLANS: dict[str, tuple[ExitPlan, str, int]] = {
    # kind: (plan, exit reason that must fire, how often at least)
    "stop_loss": (ExitPlan(stop_loss=Distance.percent(0.4)), "stop_loss", 20),
    "take_profit": (
        ExitPlan(stop_loss=Distance.percent(1.0), take_profit=Distance.percent(0.5)),
        "take_profit",
        20,
    ),
    "trailing_percent": (ExitPlan(trailing=Distance.percent(0.3)), "trailing_stop", 40),
    "trailing_price": (ExitPlan(trailing=Distance.price(60.0)), "trailing_stop", 40),
    "trailing_atr": (ExitPlan(trailing=Distance.atr(3.0), atr_period=14), "trailing_stop", 40),
    "time_stop": (
        ExitPlan(stop_loss=Distance.percent(2.0), time_limit="45m"),
        "time_stop",
        20,
    ),
    "break_even": (
        ExitPlan(
            stop_loss=Distance.percent(0.8),
            take_profit=Distance.percent(1.5),
            break_even=BreakEven(Distance.percent(0.3), offset=5.0),
        ),
        "stop_loss",
        20,
    ),
}


@pytest.fixture(scope="module")
def ftx_week() -> OHLCV:
    return load_ohlcv(BTC_1M).slice_time(START, END)


def bar_engine(bars: OHLCV) -> Callable[[], BacktestEngine]:
    def build() -> BacktestEngine:
        engine = BacktestEngine()
        engine.add_venue(
            "BINANCE",
            starting_balances={"USDT": 1_000_000.0},
            fee_model=FeeModel(maker=0.0002, taker=0.0005),
        )
        inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
        engine.add_instrument(inst)
        engine.add_ohlcv(BarType.time(inst.id, "1m"), bars)
        return engine

    return build


@pytest.mark.parametrize("kind", list(PLANS))
def test_native_and_emulated_exits_fill_alike_on_real_bars(kind: str, ftx_week: OHLCV) -> None:
    plan, reason, at_least = PLANS[kind]
    native, emulated = run_both(bar_engine(ftx_week), plan, ENTRIES, hold=80)
    assert fill_rows(native) == fill_rows(emulated)
    assert exit_reasons(native) == exit_reasons(emulated)
    assert Counter(exit_reasons(native))[reason] >= at_least
    if kind == "break_even":
        # stops moved to entry + 5 (long) or entry - 5 (short) and then hit there
        moved = [
            t
            for t in native.cache.round_trips
            if abs(abs(t.exit_price - t.entry_price) - 5.0) < 0.011 and t.exit_reason == reason
        ]
        assert len(moved) >= 5


@pytest.fixture(scope="module")
def spot_trades() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frame = pl.read_csv(TRADES, schema_overrides={"price": pl.Float64, "qty": pl.Float64}).filter(
        pl.col("market") == "spot"
    )
    return (
        frame["local_ts_ns"].to_numpy(),
        frame["price"].to_numpy(),
        frame["qty"].to_numpy(),
    )


def trade_run(
    trades: tuple[np.ndarray, np.ndarray, np.ndarray], emulate: bool, fill_model: FillModel
) -> BacktestEngine:
    engine = BacktestEngine()
    engine.add_venue("BINANCE", starting_balances={"USDT": 1_000_000.0}, fill_model=fill_model)
    inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
    engine.add_instrument(inst)
    engine.add_trades(inst.id, *trades)
    entries = {i: (0.05 if (i // 1000) % 2 == 0 else -0.05) for i in range(0, 19_000, 1000)}
    plan = ExitPlan(trailing=Distance.price(8.0), stop_loss=Distance.price(15.0))
    engine.add_strategy(ScheduledEntries(plan, entries, emulate=emulate, watch="trades"))
    engine.run()
    return engine


def test_emulated_exits_from_trades_trade_at_the_next_trade(
    spot_trades: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    ts, price, _ = spot_trades
    native = trade_run(spot_trades, False, FillModel())
    emulated = trade_run(spot_trades, True, FillModel())
    # entries only when flat and exits close everything: fills alternate entry, exit
    native_exits = native.execution.fills[1::2]
    emulated_exits = emulated.execution.fills[1::2]
    assert len(native_exits) == len(emulated_exits) >= 10
    for nat, emu in zip(native_exits, emulated_exits, strict=True):
        # the native stop fills at the trade that crosses it; the emulator hears that trade
        # and its market order meets the next one
        k = int(np.searchsorted(ts, nat.ts_event))
        assert ts[k] == nat.ts_event and price[k] == nat.last_px
        assert (emu.ts_event, emu.last_px) == (int(ts[k + 1]), float(price[k + 1]))


def test_emulated_exits_from_trades_match_native_without_latency(
    spot_trades: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    native = trade_run(spot_trades, False, FillModel(market_fill="close"))
    emulated = trade_run(spot_trades, True, FillModel(market_fill="close"))
    assert len(native.execution.fills) >= 20
    assert [(f.ts_event, f.side, f.last_qty, f.last_px) for f in native.execution.fills] == [
        (f.ts_event, f.side, f.last_qty, f.last_px) for f in emulated.execution.fills
    ]
