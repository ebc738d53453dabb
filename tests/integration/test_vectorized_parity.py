"""The vectorized engine gives the event-driven engine's trades, equity and statistics.

Real BTC/USDT 1-minute bars (2022-01-01 .. 2022-03-31, ~130k bars). The event-driven side is
the full kernel: the MA-cross strategy, or a bracket strategy with stop-loss, take-profit and
trailing stop orders matched by the simulated venue.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from tests.conftest import BTC_1M

from ttquant.analytics.statistics import compute_statistics
from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.engine.backtest import BacktestEngine
from ttquant.engine.runner import trade_arrays
from ttquant.model.data import Bar, BarType
from ttquant.model.enums import OrderSide
from ttquant.model.events import OrderFilled
from ttquant.model.instruments import Instrument, spot
from ttquant.research.vectorized.forms import MACrossForm
from ttquant.research.vectorized.layout import LONG_ENTRY, LONG_EXIT
from ttquant.research.vectorized.portfolio import (
    Batch,
    Columns,
    Market,
    VenueSettings,
    run_signals,
)
from ttquant.strategy.library.ma_cross import SMACross
from ttquant.strategy.strategy import Strategy
from ttquant.venues.sim.models import BpsSlippage, FeeModel, FixedTickSlippage, SlippageModel

STEP = 60_000_000_000
START = 1_640_995_200_000_000_000  # 2022-01-01
END = 1_648_771_200_000_000_000  # 2022-04-01
CASH = 1_000_000.0


@pytest.fixture(scope="module")
def bars(shared_data: object) -> OHLCV:
    return load_ohlcv(BTC_1M).slice_time(START, END)


@pytest.fixture(scope="module")
def btc() -> Instrument:
    return spot("BTC/USDT", "SIM", price_increment=0.01, size_increment=1e-5)


def event_run(
    bars: OHLCV,
    inst: Instrument,
    strategy: Strategy,
    fee: float = 0.0,
    slippage: SlippageModel | None = None,
) -> tuple[BacktestEngine, Any]:
    engine = BacktestEngine()
    engine.add_venue(
        "SIM",
        starting_balances={"USDT": CASH},
        fee_model=FeeModel(maker=fee / 2, taker=fee),
        slippage_model=slippage,
    )
    engine.add_instrument(inst)
    engine.add_ohlcv(BarType(inst.id, STEP), bars)
    engine.add_strategy(strategy)
    return engine, engine.run()


def assert_same(engine: BacktestEngine, curve: Any, batch: Batch, col: int = 0) -> None:
    trips = engine.cache.round_trips
    trades = batch.trades(col)
    assert len(trades) == len(trips) > 50
    reasons = ("signal", "stop_loss", "take_profit", "trailing_stop")
    for k, t in enumerate(trips):
        assert (int(trades.entry_ns[k]), int(trades.exit_ns[k])) == (t.entry_ns, t.exit_ns), k
        assert trades.entry_price[k] == pytest.approx(t.entry_price, rel=1e-12), k
        assert trades.exit_price[k] == pytest.approx(t.exit_price, rel=1e-12), k
        assert trades.quantity[k] == pytest.approx(t.quantity, rel=1e-12), k
        assert trades.pnl[k] == pytest.approx(t.pnl, rel=1e-9, abs=1e-9), k
        assert bool(trades.long[k]) == (t.side.value == "LONG"), k
        assert reasons[int(trades.exit_reason[k])] == t.exit_reason, k
    assert batch.final_equity(col) == pytest.approx(float(curve.equity[-1]), rel=1e-11)
    expected = compute_statistics(
        curve.ts,
        curve.equity,
        trade_arrays(list(trips)),
        in_market=curve.in_market,
        benchmark=next(iter(curve.marks.values())),
    )
    got = batch.statistics(col)
    for key, value in expected.items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=1e-8, abs=1e-9), key
        else:
            assert got[key] == value, key


@pytest.mark.parametrize(
    ("fee", "long_only"), [(0.0, True), (0.001, True), (0.001, False)], ids=str
)
def test_ma_cross_parity(bars: OHLCV, btc: Instrument, fee: float, long_only: bool) -> None:
    params: dict[str, Any] = {
        "fast": 10, "slow": 30, "ma": "sma", "long_only": long_only, "size": 1.0
    }  # fmt: skip
    engine, curve = event_run(bars, btc, SMACross(**params), fee)
    market = Market.from_ohlcv([bars], [btc], STEP)
    venue = VenueSettings(cash=CASH, maker_fee=fee / 2, taker_fee=fee)
    batch = MACrossForm(SMACross).run(market, bars, venue, [params])
    assert_same(engine, curve, batch)


def test_generic_signals_equal_the_fused_kernel(bars: OHLCV, btc: Instrument) -> None:
    """``vectorized_signals`` through the generic kernel == the fused MA-cross columns."""
    market = Market.from_ohlcv([bars], [btc], STEP)
    venue = VenueSettings(cash=CASH, taker_fee=0.0005)
    sets = [
        {"fast": f, "slow": s, "ma": ma, "long_only": lo, "size": 0.5}
        for f, s, ma, lo in [(5, 20, "sma", True), (12, 26, "ema", False), (20, 60, "sma", False)]
    ]
    fused = MACrossForm(SMACross).run(market, bars, venue, sets)
    cache: dict[Any, Any] = {}
    flags = np.zeros((len(sets), len(bars), 1), dtype=np.uint8)
    for c, params in enumerate(sets):
        out = SMACross.vectorized_signals(bars, params, cache)
        for key, bit in (("long_entries", 1), ("long_exits", 2), ("short_entries", 4)):
            flags[c, :, 0] |= out[key].astype(np.uint8) * np.uint8(bit)
        flags[c, :, 0] |= out["short_exits"].astype(np.uint8) * np.uint8(8)
    generic = run_signals(market, flags, Columns.make(3, size=0.5, direction="both"), venue)
    for c in range(len(sets)):
        a, b = fused.trades(c), generic.trades(c)
        assert len(a) == len(b) > 100
        assert np.array_equal(a.entry_ns, b.entry_ns) and np.array_equal(a.exit_ns, b.exit_ns)
        assert np.array_equal(a.pnl, b.pnl)
        assert fused.final_equity(c) == generic.final_equity(c)


class BracketCross(Strategy):
    """SMA-cross entries protected like the vectorized engine's stops (test reference).

    Entry: a bracket (market entry, stop-loss and take-profit fixed from the signal close);
    once it fills, a trailing stop. Exit signal: ``close_position`` (cancels the exits first).
    """

    name = "bracket_cross"

    def __init__(self, signals: np.ndarray, sl: float, tp: float, trail: float) -> None:
        super().__init__()
        self.signals = signals
        self.sl, self.tp, self.trail = sl, tp, trail

    def on_start(self) -> None:
        self.subscribe_bars()
        self.i = 0
        self.entries = set(np.flatnonzero(self.signals & LONG_ENTRY).tolist())
        self.exits = set(np.flatnonzero(self.signals & LONG_EXIT).tolist())

    def on_bar(self, bar: Bar) -> None:
        i, self.i = self.i, self.i + 1
        inst = self.cache.instrument(self.instrument)
        flat = self.position().is_flat
        if i in self.exits and not flat:
            self.close_position()
        elif i in self.entries and flat:
            self.cancel_all()
            self.bracket(
                OrderSide.BUY,
                1.0,
                stop_loss=inst.round_price(bar.close * (1.0 - self.sl)),
                take_profit=inst.round_price(bar.close * (1.0 + self.tp)),
            )

    def on_fill(self, fill: OrderFilled) -> None:
        if fill.side is OrderSide.BUY and self.trail > 0:
            self.trailing_stop(OrderSide.SELL, fill.last_qty, self.trail * 100.0, percent=True)


def cross_signals(bars: OHLCV, fast: int, slow: int) -> np.ndarray:
    out = SMACross.vectorized_signals(
        bars, {"fast": fast, "slow": slow, "ma": "sma", "long_only": True, "size": 1.0}, {}
    )
    flags: np.ndarray = out["long_entries"] * LONG_ENTRY + out["long_exits"] * LONG_EXIT
    return flags.astype(np.uint8)


@pytest.mark.parametrize(
    ("sl", "tp", "trail", "slippage"),
    [
        (0.004, 0.006, 0.0, None),
        (0.003, 0.005, 0.004, FixedTickSlippage(3)),
        (0.004, 0.004, 0.003, BpsSlippage(2.0)),
    ],
    ids=["bracket", "bracket+trailing+ticks", "bracket+trailing+bps"],
)
def test_stops_parity_with_the_simulated_venue(
    bars: OHLCV, btc: Instrument, sl: float, tp: float, trail: float, slippage: Any
) -> None:
    part = bars.slice_time(START, START + 20 * 86_400_000_000_000)
    signals = cross_signals(part, 20, 60)
    strategy = BracketCross(signals, sl, tp, trail)
    engine, curve = event_run(part, btc, strategy, 0.0006, slippage)
    venue = VenueSettings(
        cash=CASH,
        maker_fee=0.0003,
        taker_fee=0.0006,
        slippage_ticks=getattr(slippage, "ticks", 0),
        slippage_bps=getattr(slippage, "bps", 0.0),
    )
    columns = Columns.make(
        1, size=1.0, stop_loss=sl, take_profit=tp, trailing_stop=trail or math.nan
    )
    market = Market.from_ohlcv([part], [btc], STEP)
    batch = run_signals(market, signals.reshape(1, -1, 1), columns, venue)
    reasons = set(batch.trades(0).exit_reason.tolist())
    assert {1, 2} <= reasons  # stop-losses and take-profits both happened
    if trail:
        assert 3 in reasons
    assert_same(engine, curve, batch)
