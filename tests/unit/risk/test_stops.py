"""The stop manager on hand-written bars: every exit kind, long and short, native and emulated.

Each expected fill is read off the bars written in the test (the venue's path rule: open, the
extreme nearer the open, the other extreme, close; a gap fills at the open). Bar ``i`` is
numbered from 0; an entry placed at the close of bar 0 fills at the open of bar 1, and the
manager sets the exits at the close of bar 1 (the first bar in which it sees the position).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pytest
from tests.conftest import REPO
from tests.unit.risk._stops_kit import ScheduledEntries, exit_reasons
from tests.unit.venues._simkit import MINUTE, T0, engine_for, instrument

from ttquant.core.errors import ConfigError
from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import Bar
from ttquant.model.enums import LiquiditySide, OrderStatus, OrderType, TimeInForce
from ttquant.model.events import OrderRejected
from ttquant.model.orders import Order
from ttquant.risk.stops import UNSUPPORTED_ORDER, BreakEven, Distance, ExitLevels, ExitPlan
from ttquant.strategy.strategy import Strategy

OHLC = tuple[float, float, float, float]
FLAT: OHLC = (100.0, 100.5, 99.5, 100.0)
BOTH = pytest.mark.parametrize("emulate", [False, True], ids=["native", "emulated"])


def run(
    bars: Sequence[OHLC], plan: ExitPlan, *, emulate: bool, side: float = 1.0
) -> BacktestEngine:
    engine = engine_for(bars)
    engine.add_strategy(ScheduledEntries(plan, {0: side}, emulate=emulate))
    engine.run()
    return engine


def fills(engine: BacktestEngine) -> list[tuple[int, str, float]]:
    """(bar index, side, price) of every fill."""
    return [((f.ts_event - T0) // MINUTE, f.side.value, f.last_px) for f in engine.execution.fills]


# -- stop-loss and take-profit ----------------------------------------------------------------
@BOTH
def test_stop_loss_fills_at_its_level_inside_a_bar(emulate: bool) -> None:
    bars = [FLAT, FLAT, (100.0, 101.0, 99.0, 100.0), (100.0, 100.2, 97.5, 98.5)]
    engine = run(bars, ExitPlan(stop_loss=Distance.price(2.0)), emulate=emulate)
    # entry 100 at bar 1's open; stop 98; bar 3's low (97.5) passes through it
    assert fills(engine) == [(1, "BUY", 100.0), (3, "SELL", 98.0)]
    assert exit_reasons(engine) == ["stop_loss"]
    assert engine.execution.fills[1].liquidity_side is LiquiditySide.TAKER


@BOTH
def test_stop_loss_gapped_through_fills_at_the_open(emulate: bool) -> None:
    bars = [FLAT, FLAT, (100.0, 101.0, 99.0, 100.0), (97.0, 97.5, 96.0, 97.0)]
    engine = run(bars, ExitPlan(stop_loss=Distance.percent(2.0)), emulate=emulate)
    assert fills(engine) == [(1, "BUY", 100.0), (3, "SELL", 97.0)]


@BOTH
def test_take_profit_fills_at_its_limit_as_maker(emulate: bool) -> None:
    bars = [FLAT, FLAT, (100.5, 102.0, 100.0, 101.5), (101.5, 103.5, 101.0, 103.0)]
    plan = ExitPlan(stop_loss=Distance.price(5.0), take_profit=Distance.price(3.0))
    engine = run(bars, plan, emulate=emulate)
    assert fills(engine) == [(1, "BUY", 100.0), (3, "SELL", 103.0)]
    assert engine.execution.fills[1].liquidity_side is LiquiditySide.MAKER
    assert exit_reasons(engine) == ["take_profit"]
    # the one-cancels-other stop went with it
    assert not [o for o in engine.cache.orders.values() if o.is_open]


@BOTH
def test_take_profit_gapped_through_fills_at_the_better_open(emulate: bool) -> None:
    bars = [FLAT, FLAT, (100.5, 102.0, 100.0, 101.5), (104.0, 104.5, 103.8, 104.0)]
    plan = ExitPlan(take_profit=Distance.price(3.0))
    assert fills(run(bars, plan, emulate=emulate))[-1] == (3, "SELL", 104.0)


@BOTH
def test_stop_comes_first_when_one_bar_reaches_both(emulate: bool) -> None:
    bars = [FLAT, FLAT, (100.5, 102.5, 97.5, 100.0)]
    plan = ExitPlan(stop_loss=Distance.price(2.0), take_profit=Distance.price(2.0))
    engine = run(bars, plan, emulate=emulate)
    assert fills(engine) == [(1, "BUY", 100.0), (2, "SELL", 98.0)]


@BOTH
def test_short_positions_are_mirrored(emulate: bool) -> None:
    bars = [FLAT, FLAT, (100.0, 102.5, 99.8, 101.0)]
    engine = run(bars, ExitPlan(stop_loss=Distance.price(2.0)), emulate=emulate, side=-1.0)
    # short 100; stop 102 above; the low comes first (0.2 away), then the high passes 102
    assert fills(engine) == [(1, "SELL", 100.0), (2, "BUY", 102.0)]


# -- trailing ---------------------------------------------------------------------------------
@BOTH
def test_price_trail_ratchets_inside_the_bar_before_the_low(emulate: bool) -> None:
    # docs/backtesting.md's example: stop 98 after bar 1 (close 100); bar 2 opens at 102, goes
    # to 103 first (nearer), which lifts the stop to 101, then down to 100 through it
    bars = [FLAT, FLAT, (102.0, 103.0, 100.0, 102.0)]
    engine = run(bars, ExitPlan(trailing=Distance.price(2.0)), emulate=emulate)
    assert fills(engine) == [(1, "BUY", 100.0), (2, "SELL", 101.0)]
    assert exit_reasons(engine) == ["trailing_stop"]


@BOTH
def test_price_trail_low_first_survives_the_bar(emulate: bool) -> None:
    # low first: 101 → stop 99; 100 stays above; 103 lifts it to 101; the close 102 is above;
    # bar 3 goes high first (no new best) and then to 100.5, through 101
    bars = [FLAT, FLAT, (101.0, 103.0, 100.0, 102.0), (102.0, 102.2, 100.5, 101.0)]
    engine = run(bars, ExitPlan(trailing=Distance.price(2.0)), emulate=emulate)
    assert fills(engine) == [(1, "BUY", 100.0), (3, "SELL", 101.0)]


@BOTH
def test_percent_trail(emulate: bool) -> None:
    # 1 % below: 99.00 after bar 1; bar 2 low first (99.5 holds), high 105 → 103.95;
    # bar 3 high first (104.6, no new best) then 103 → filled at 103.95
    bars = [FLAT, FLAT, (100.0, 105.0, 99.5, 104.5), (104.5, 104.6, 103.0, 103.5)]
    engine = run(bars, ExitPlan(trailing=Distance.percent(1.0)), emulate=emulate)
    assert fills(engine) == [(1, "BUY", 100.0), (3, "SELL", 103.95)]


@BOTH
def test_atr_trail_hangs_from_the_best_high(emulate: bool) -> None:
    # ATR(2): TR(bar 1) = 2, TR(bar 2) = 3 → 2.5 after bar 2; best 102 → stop 99.5.
    # bar 3: TR 3 → ATR (2.5 + 3) / 2 = 2.75, best 104 → stop 101.25; bar 4 falls to 100.
    bars = [
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 101.0, 99.0, 100.0),
        (100.0, 102.0, 99.0, 101.5),
        (101.5, 104.0, 101.0, 103.0),
        (103.0, 103.5, 100.0, 100.5),
    ]
    plan = ExitPlan(trailing=Distance.atr(1.0), atr_period=2)
    engine = run(bars, plan, emulate=emulate)
    assert fills(engine) == [(1, "BUY", 100.0), (4, "SELL", 101.25)]


# -- time and break-even ----------------------------------------------------------------------
@BOTH
def test_time_stop_closes_at_the_first_bar_after_the_limit(emulate: bool) -> None:
    # opened at bar 1's open (T0 + 1m); bar 3 closes at T0 + 4m, 3 minutes later → a market
    # order that fills at bar 4's open
    bars = [FLAT, FLAT, FLAT, FLAT, (100.2, 100.5, 99.5, 100.0), FLAT]
    plan = ExitPlan(stop_loss=Distance.price(5.0), time_limit="3m")
    engine = run(bars, plan, emulate=emulate)
    assert fills(engine) == [(1, "BUY", 100.0), (4, "SELL", 100.2)]
    assert exit_reasons(engine) == ["time_stop"]
    assert not [o for o in engine.cache.orders.values() if o.is_open]


@BOTH
def test_break_even_moves_the_stop_to_entry_plus_offset(emulate: bool) -> None:
    # stop 97; bar 2's high 102.5 is 2.5 in profit (≥ 2) → stop 100.5; bar 3 falls to 100
    bars = [FLAT, FLAT, (100.0, 102.5, 99.8, 102.0), (102.0, 102.2, 100.0, 100.4)]
    plan = ExitPlan(
        stop_loss=Distance.price(3.0), break_even=BreakEven(Distance.price(2.0), offset=0.5)
    )
    engine = run(bars, plan, emulate=emulate)
    assert fills(engine) == [(1, "BUY", 100.0), (3, "SELL", 100.5)]


@BOTH
def test_break_even_alone_places_a_stop_once_armed(emulate: bool) -> None:
    bars = [FLAT, FLAT, (100.0, 101.0, 99.0, 100.8), (100.8, 101.5, 100.6, 101.0), FLAT]
    plan = ExitPlan(break_even=BreakEven(Distance.percent(1.0)))
    engine = run(bars, plan, emulate=emulate)
    # 1 % of 100 reached at bar 2's high → stop at 100.00; bar 4 (100 .. 100.5) touches it
    assert fills(engine) == [(1, "BUY", 100.0), (4, "SELL", 100.0)]
    assert exit_reasons(engine) == ["break_even"]


# -- position changes -------------------------------------------------------------------------
class AddThenClose(Strategy):
    """Buys 1, adds 1 at bar 3, closes at bar 5: the exits follow the position."""

    def __init__(self, plan: ExitPlan, emulate: bool) -> None:
        super().__init__(strategy_id="adder")
        self.plan, self.emulate, self.index = plan, emulate, -1
        self.stop_sizes: list[float] = []

    def on_start(self) -> None:
        self.subscribe_bars()
        self.stops.protect(self.plan, emulate=self.emulate)

    def on_bar(self, bar: Bar) -> None:
        self.index += 1
        stops = [o for o in self.open_orders() if o.order_type is OrderType.STOP_MARKET]
        self.stop_sizes.append(stops[0].leaves_qty if stops else 0.0)
        if self.index in (0, 3):
            self.buy(1.0)
        elif self.index == 5:
            self.close_position()


def test_native_exits_follow_adds_and_go_when_the_strategy_closes() -> None:
    bars = [FLAT] * 8
    strategy = AddThenClose(ExitPlan(stop_loss=Distance.price(3.0)), emulate=False)
    engine = engine_for(bars)
    engine.add_strategy(strategy)
    engine.run()
    # the stop is placed at bar 1's close (seen at bar 2), resized to 2 after the add fills at
    # bar 4's open (seen at bar 5 before the strategy closes), gone once flat
    assert strategy.stop_sizes == [0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 0.0, 0.0]
    assert [o for o in engine.cache.orders.values() if o.is_open] == []
    assert [(f.side.value, f.last_qty) for f in engine.execution.fills] == [
        ("BUY", 1.0),
        ("BUY", 1.0),
        ("SELL", 2.0),
    ]


def test_emulated_exits_on_bars_are_one_bar_immediate_or_cancel_orders() -> None:
    bars = [FLAT] * 6
    engine = run(bars, ExitPlan(stop_loss=Distance.price(3.0)), emulate=True)
    exits = [o for o in engine.cache.orders.values() if o.reduce_only]
    assert len(exits) == 5  # armed at the close of bars 1 to 5, each for the next bar
    assert {o.time_in_force for o in exits} == {TimeInForce.IOC}
    # each ended with its bar; the last waits for a bar that never comes
    assert [o.status for o in exits] == [OrderStatus.CANCELED] * 4 + [OrderStatus.ACCEPTED]
    assert {o.trigger_price for o in exits} == {97.0}


# -- levels -----------------------------------------------------------------------------------
def test_levels_cross_checks_the_stop_before_the_take_profit() -> None:
    plan = ExitPlan(stop_loss=Distance.price(2.0), take_profit=Distance.price(2.0))
    levels = ExitLevels(plan, instrument(), 1, 100.0, 100.0, math.nan, 0)
    assert (levels.stop, levels.take_profit) == (98.0, 102.0)
    assert levels.crossed(99.0) is None
    assert levels.crossed(98.0) == "stop_loss"
    assert levels.crossed(102.0) == "take_profit"
    short = ExitLevels(plan, instrument(), -1, 100.0, 100.0, math.nan, 0)
    assert (short.stop, short.take_profit, short.crossed(102.5)) == (102.0, 98.0, "stop_loss")


# -- a venue without trailing stops -----------------------------------------------------------
def refuse(engine: BacktestEngine, kind: OrderType, reason: str) -> None:
    """Make the engine's venue refuse every list holding an order of ``kind`` with ``reason``."""
    venue = engine.venues["SIM"]
    accept = venue.submit_list

    def submit_list(orders: Sequence[Order]) -> None:
        if all(o.order_type is not kind for o in orders):
            accept(orders)
            return
        for o in orders:
            venue._emit(OrderRejected(**o.event_ids(engine.cache.now()), reason=reason))

    venue.submit_list = submit_list  # type: ignore[method-assign]


def test_auto_mode_turns_to_emulation_when_the_venue_lacks_the_order_type() -> None:
    """A venue that refuses trailing stops with ``UNSUPPORTED_ORDER`` (as the live adapters do):
    the manager emulates the trail from trades and closes with a market order at the next one."""
    engine = engine_for([])
    refuse(engine, OrderType.TRAILING_STOP, UNSUPPORTED_ORDER)
    prices = np.array([100.0, 100.0, 100.5, 101.0, 100.2, 99.9, 99.5, 99.0])
    ts = T0 + np.arange(len(prices), dtype=np.int64) * 1_000_000_000
    engine.add_trades("BTC/USDT@SIM", ts, prices, np.ones(len(prices)))
    plan = ExitPlan(trailing=Distance.price(1.0))
    strategy = ScheduledEntries(plan, {0: 1.0}, emulate=None, watch="trades")
    engine.add_strategy(strategy)
    engine.run()
    refused = [e for e in strategy.events if isinstance(e, OrderRejected)]
    assert [e.reason for e in refused] == [UNSUPPORTED_ORDER]
    assert strategy.stops.is_emulated()
    # bought at trade 1 (100.0): trail 99.0, then 99.5 at 100.5 and 100.0 at 101.0; trade 4
    # (100.2) holds, trade 5 (99.9) crosses, and the market order fills at trade 6 (99.5)
    assert [(f.side.value, f.last_px) for f in engine.execution.fills] == [
        ("BUY", 100.0),
        ("SELL", 99.5),
    ]
    assert exit_reasons(engine) == ["trailing_stop"]


def test_a_refused_close_is_not_sent_again(caplog: pytest.LogCaptureFixture) -> None:
    """A time stop whose market order is refused (say, by a halted account) tries once and
    says so, instead of sending a refused order on every bar."""
    engine = engine_for([FLAT] * 10)
    strategy = ScheduledEntries(ExitPlan(time_limit="2m"), {0: 1.0})
    engine.add_strategy(strategy)
    # the entry is a market order too: refuse market orders only once the position is open
    engine.clock.set_time_alert(
        "halt", T0 + 3 * MINUTE, lambda _: refuse(engine, OrderType.MARKET, "HALTED")
    )
    engine.run()
    closes = [o for o in engine.cache.orders.values() if o.exit_reason == "time_stop"]
    assert [o.status for o in closes] == [OrderStatus.REJECTED]
    assert "refused (HALTED); no more exits for this position" in caplog.text
    assert not engine.cache.position("entries", "BTC/USDT@SIM").is_flat


def test_stops_need_a_bound_strategy() -> None:
    with pytest.raises(ConfigError, match="available from on_start"):
        _ = ScheduledEntries(ExitPlan(time_limit="1m"), {}).stops


# -- the documented example ------------------------------------------------------------------
def test_the_documented_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (REPO / "docs" / "risk_toolkit.md").read_text()
    (block,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    monkeypatch.chdir(REPO)  # the example reads the demo data by its repository path
    exec(compile(block, "docs/risk_toolkit.md", "exec"), {"__name__": "risk_toolkit_example"})


@BOTH
def test_exits_from_quotes_watch_the_side_they_trade_on(emulate: bool) -> None:
    """A long leaves by selling into the bid: the trail follows the bid, not the mid."""
    bids = np.array([100.0, 100.0, 101.0, 100.4, 99.9, 99.7])
    asks = bids + np.array([0.2, 0.2, 0.2, 1.0, 0.2, 0.2])
    ts = T0 + np.arange(len(bids), dtype=np.int64) * 1_000_000_000
    engine = engine_for([])
    engine.add_quotes("BTC/USDT@SIM", ts, bids, asks, np.ones(len(bids)), np.ones(len(bids)))
    strategy = ScheduledEntries(
        ExitPlan(trailing=Distance.price(1.0)), {0: 1.0}, emulate=emulate, watch="quotes"
    )
    engine.add_strategy(strategy)
    engine.run()
    fills = [
        (f.side.value, f.last_px, (f.ts_event - T0) // 1_000_000_000)
        for f in engine.execution.fills
    ]
    # bought at quote 1's ask (100.2); trail from the mid of quote 1 (100.1) → 99.1, then from
    # the bid 101.0 → 100.0; quote 3's bid (100.4) holds even with a wide ask, quote 4's bid
    # (99.9) crosses: the native stop sells there, the emulator's market order at quote 5
    expected_exit = ("SELL", 99.9, 4) if not emulate else ("SELL", 99.7, 5)
    assert fills == [("BUY", 100.2, 1), expected_exit]


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Distance.price(-1.0), "positive finite"),
        (lambda: Distance.percent(100.0), "below 100"),
        (lambda: Distance("pips", 1.0), "price, percent or atr"),  # type: ignore[arg-type]
        (ExitPlan, "at least one"),
        (lambda: ExitPlan(time_limit="soon"), "invalid bar step"),
        (lambda: ExitPlan(time_limit=-5), "positive duration"),
        (lambda: ExitPlan(stop_loss=Distance.price(1.0), atr_period=0), "atr_period"),
        (lambda: BreakEven(Distance.price(1.0), offset=-1.0), "offset"),
    ],
)
def test_bad_plans_are_refused_with_one_line(make: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()  # type: ignore[operator]


def test_bad_protection_requests_are_refused() -> None:
    engine = engine_for([FLAT, FLAT])

    class Protector(Strategy):
        def on_start(self) -> None:
            with pytest.raises(ConfigError, match="watch must be"):
                self.stops.protect(ExitPlan(stop_loss=Distance.price(1.0)), watch="ticks")  # type: ignore[arg-type]
            with pytest.raises(ConfigError, match="ATR distances are measured on bars"):
                self.stops.protect(ExitPlan(trailing=Distance.atr(2.0)), watch="quotes")
            self.checked = True

    strategy = Protector()
    engine.add_strategy(strategy)
    engine.run()
    assert strategy.checked
