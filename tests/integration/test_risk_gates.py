"""Loss gates and the kill switch in backtests on real data (Binance BTC/USDT 1-minute bars,
May 2022: the LUNA crash).

The bar at which a gate must halt trading is computed here from an equity curve with the gate's
definition (docs/backtesting.md): the daily loss is measured from the last equity of the
previous UTC day, the drawdown from the running peak including the starting equity. The run
without the gate gives the first halt; the gated run's own curve gives every later one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.conftest import BTC_1M

from ttquant.data.bars import OHLCV, load_ohlcv
from ttquant.engine.backtest import BacktestEngine, EquityCurve
from ttquant.model.data import Bar, BarType
from ttquant.model.enums import OrderStatus
from ttquant.model.events import OrderCanceled, OrderDenied, OrderEvent
from ttquant.model.instruments import spot
from ttquant.risk.config import RiskConfig
from ttquant.risk.engine import KILL_SWITCH
from ttquant.risk.gates import LossRule
from ttquant.risk.rules import RiskRule
from ttquant.risk.state import TradingState
from ttquant.strategy.library.ma_cross import SMACross
from ttquant.strategy.strategy import Strategy
from ttquant.venues.sim.models import FeeModel

DAY = 86_400 * 10**9
START = 1_651_363_200 * 10**9  # 2022-05-01T00:00:00Z
CASH = 100_000.0


@pytest.fixture(scope="module")
def may_2022(shared_data: Any) -> OHLCV:
    return load_ohlcv(BTC_1M).slice_time(START, START + 20 * DAY)


def _run(bars: OHLCV, risk: RiskConfig | None, strategy: Strategy | None = None) -> BacktestEngine:
    engine = BacktestEngine()
    engine.add_venue(
        "BINANCE",
        starting_balances={"USDT": CASH},
        fee_model=FeeModel(maker=0.0004, taker=0.0004),
    )
    inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
    engine.add_instrument(inst)
    engine.add_ohlcv(BarType.time(inst.id, "1m"), bars)
    engine.add_strategy(strategy or SMACross(fast=10, slow=60, long_only=False, size=1.0))
    engine.risk.configure(risk)
    engine.curve = engine.run()  # type: ignore[attr-defined]
    return engine


def _curve(engine: BacktestEngine) -> EquityCurve:
    curve: EquityCurve = engine.curve  # type: ignore[attr-defined]
    return curve


def _daily_loss_halts(curve: EquityCurve, limit: float) -> list[int]:
    """Sample indexes where the daily loss first reaches ``limit``, one per UTC day at most."""
    halts = []
    day_start, day, halted_day = CASH, curve.ts[0] // DAY, -1
    for i, (t, eq) in enumerate(zip(curve.ts, curve.equity, strict=True)):
        if t // DAY != day:
            day_start, day = curve.equity[i - 1] if i else CASH, t // DAY
        if day_start - eq >= limit and halted_day != day:
            halts.append(i)
            halted_day = day
    return halts


def _drawdown_halt(curve: EquityCurve, pct: float) -> int:
    peak = np.maximum.accumulate(np.concatenate([[CASH], curve.equity]))[1:]
    hit = np.flatnonzero(peak - curve.equity >= pct / 100.0 * peak)
    return int(hit[0])


def _no_near_ties(values: np.ndarray, limit: float) -> None:
    """Guard the test itself: float noise must not decide the expected bar."""
    assert np.min(np.abs(values - limit)) > 1e-6


def test_daily_loss_gate_halts_at_the_right_bar_and_resumes_the_next_day(
    may_2022: OHLCV,
) -> None:
    limit = 2_000.0
    free = _run(may_2022, None)
    first = _daily_loss_halts(_curve(free), limit)[0]
    gated = _run(may_2022, RiskConfig(max_daily_loss=limit))
    curve = _curve(gated)
    halts = _daily_loss_halts(curve, limit)
    assert halts[0] == first  # the same bar as the ungated run predicts
    assert np.array_equal(curve.equity[: first + 1], _curve(free).equity[: first + 1])
    assert len(halts) >= 2  # halted again on a later day, after resuming
    changes = gated.risk.state_changes
    halted = [c for c in changes if c.state is TradingState.HALTED]
    assert [c.ts_event for c in halted] == [int(curve.ts[i]) for i in halts]
    assert {c.rule for c in halted} == {LossRule.MAX_DAILY_LOSS}
    resumed = [c for c in changes if c.state is TradingState.ACTIVE]
    for halt, resume in zip(halted, resumed, strict=True):
        # ACTIVE again at the first bar of the next UTC day
        next_day = (halt.ts_event // DAY + 1) * DAY
        assert resume.ts_event == int(curve.ts[np.searchsorted(curve.ts, next_day)])
        assert resume.rule == "EXPIRED"
        fills = [f for f in gated.execution.fills if halt.ts_event < f.ts_init < next_day]
        assert fills == []  # nothing traded while halted
    denied = [o for o in gated.cache.orders.values() if o.status is OrderStatus.DENIED]
    assert denied and all(o.events[-1].reason == RiskRule.TRADING_HALTED for o in denied)  # type: ignore[attr-defined]
    day_start = np.concatenate([[CASH], curve.equity])[
        np.searchsorted(curve.ts, curve.ts // DAY * DAY)
    ]
    _no_near_ties(day_start - curve.equity, limit)


def test_drawdown_gate_halts_at_the_right_bar_and_flattens(may_2022: OHLCV) -> None:
    pct = 6.0
    free = _run(may_2022, None)
    expected = _drawdown_halt(_curve(free), pct)
    gated = _run(may_2022, RiskConfig(max_drawdown_pct=pct, flatten_on_halt=True))
    curve = _curve(gated)
    t_halt = int(curve.ts[expected])
    assert np.array_equal(curve.equity[: expected + 1], _curve(free).equity[: expected + 1])
    (change,) = gated.risk.state_changes  # halted for good: no resume
    assert (change.ts_event, change.state, change.rule) == (
        t_halt,
        TradingState.HALTED,
        LossRule.MAX_DRAWDOWN,
    )
    assert change.message.startswith("max_drawdown: the account equity")
    after = [f for f in gated.execution.fills if f.ts_init > t_halt]
    (flatten,) = after  # the flattening market order, filled at the next bar's open
    assert flatten.client_order_id.startswith(f"{gated.strategies[0].id}-risk-")
    assert flatten.ts_init == t_halt + 60 * 10**9
    assert gated.cache.position(gated.strategies[0].id, flatten.instrument_id).is_flat
    assert np.all(curve.equity[expected + 2 :] == curve.equity[expected + 1])  # flat from there
    peak = np.maximum.accumulate(np.concatenate([[CASH], _curve(free).equity]))[1:]
    _no_near_ties((peak - _curve(free).equity)[: expected + 1], pct / 100.0 * peak[expected])


class RestingLadder(Strategy):
    """Keeps buy and sell limits resting around the price; the test pulls the kill switch."""

    halt_at = 30

    def on_start(self) -> None:
        self.subscribe_bars()
        self.seen = 0
        self.open_at_halt: list[Any] = []
        self.denied: list[OrderDenied] = []

    def on_order(self, event: OrderEvent) -> None:
        if isinstance(event, OrderDenied):
            assert event.client_order_id not in {o.client_order_id for o in self.open_orders()}
            self.denied.append(event)

    def on_bar(self, bar: Bar) -> None:
        self.seen += 1
        if self.seen == self.halt_at:
            self.open_at_halt = self.open_orders()
            self.risk.halt("test")  # type: ignore[attr-defined]
            # the same event: halted, and every order's cancel is on its way
            assert self.risk.state() is TradingState.HALTED  # type: ignore[attr-defined]
            assert all(o.status is OrderStatus.PENDING_CANCEL for o in self.open_at_halt)
            self.halted_at = bar.ts_init
        if len(self.open_orders()) < 6:
            for k in (1, 2, 3):
                self.buy(0.01, price=round(bar.close * (1 - k / 1000), 2))
                self.sell(0.01, price=round(bar.close * (1 + k / 1000), 2))


def test_kill_switch_in_a_backtest_cancels_every_order_in_the_same_event(
    may_2022: OHLCV,
) -> None:
    ladder = RestingLadder()
    engine = BacktestEngine()
    engine.add_venue("BINANCE", starting_balances={"USDT": CASH})
    inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
    engine.add_instrument(inst)
    engine.add_ohlcv(BarType.time(inst.id, "1m"), may_2022.slice_time(START, START + DAY))
    engine.add_strategy(ladder)
    ladder.risk = engine.risk  # type: ignore[attr-defined]
    engine.run()
    assert len(ladder.open_at_halt) >= 6
    for order in ladder.open_at_halt:
        assert order.status is OrderStatus.CANCELED
        canceled = order.events[-1]
        assert isinstance(canceled, OrderCanceled) and canceled.ts_event == ladder.halted_at
    assert not [f for f in engine.execution.fills if f.ts_init > ladder.halted_at]
    later = [o for o in engine.cache.orders.values() if o.ts_init >= ladder.halted_at]
    assert later and all(o.status is OrderStatus.DENIED for o in later)
    assert engine.risk.denials[RiskRule.TRADING_HALTED] == len(later)
    # each denial reached the strategy's on_order, naming the rule
    assert [e.client_order_id for e in ladder.denied] == [o.client_order_id for o in later]
    assert {e.reason for e in ladder.denied} == {RiskRule.TRADING_HALTED}
    assert engine.risk.state_changes[0].rule == KILL_SWITCH
