"""Trading states and the kill switch, on the kernel as a paper node assembles it: a wall
clock, a simulated venue fed quotes by hand, the risk engine in front of the OMS."""

from __future__ import annotations

import pytest
from tests.unit.risk._kernel import T0, Kernel, instrument

from ttquant.core.clock import LiveClock
from ttquant.core.errors import ConfigError
from ttquant.model.enums import OrderSide, OrderStatus
from ttquant.model.events import OrderCanceled
from ttquant.risk.config import LossStreak, RiskConfig, StrategyRisk
from ttquant.risk.engine import KILL_SWITCH, STATE_TOPIC
from ttquant.risk.gates import EquityLimits, EquityWatch, LossRule, StreakWatch
from ttquant.risk.rules import RiskRule
from ttquant.risk.state import TradingState, TradingStateChanged

BTC, ETH = instrument("BTC/USDT"), instrument("ETH/USDT")
DAY = 86_400 * 1_000_000_000


def _paper_kernel(config: RiskConfig | None = None) -> Kernel:
    k = Kernel(config, clock=LiveClock(), instruments=(BTC, ETH))
    k.quote(99.99, 100.01, BTC.id)
    k.quote(19.99, 20.01, ETH.id)
    return k


def test_kill_switch_halts_and_cancels_every_open_order_in_the_same_call() -> None:
    k = _paper_kernel()
    changes: list[TradingStateChanged] = []
    k.bus.subscribe(STATE_TOPIC, changes.append)
    working = [
        k.buy(0.1, price=99.0),
        k.sell(0.1, price=101.0, strategy="s2"),
        k.sell(0.2, trigger=95.0, strategy="s2"),
        k.buy(1.0, price=19.5, iid=ETH.id),
    ]
    assert all(o.status is OrderStatus.ACCEPTED for o in working)
    assert all(engine.working for engine in k.venue.engines.values())
    k.risk.halt("operator pressed the button")
    # in the same call: the state is HALTED, every order's cancel is sent and done at the venue
    assert k.risk.state() is TradingState.HALTED
    assert all(o.status is OrderStatus.PENDING_CANCEL for o in working)
    assert not any(engine.working for engine in k.venue.engines.values())
    assert [c.state for c in changes] == [TradingState.HALTED]
    assert changes[0].rule == KILL_SWITCH
    k.execution.process_events()
    assert all(o.status is OrderStatus.CANCELED for o in working)
    assert all(isinstance(o.events[-1], OrderCanceled) for o in working)
    # nothing passes now; a cancel is never refused
    late = k.buy(0.1, price=99.0, strategy="s2")
    assert late.status is OrderStatus.DENIED
    denial = k.denial(late)
    assert denial is not None and denial.reason == RiskRule.TRADING_HALTED
    assert denial.message == (
        "trading halted for the account (KILL_SWITCH: kill switch: operator pressed the button)"
    )
    k.risk.cancel(working[0])
    k.risk.resume()
    assert k.risk.state() is TradingState.ACTIVE
    assert [c.state for c in changes] == [TradingState.HALTED, TradingState.ACTIVE]
    assert k.buy(0.1, price=99.0).status is OrderStatus.ACCEPTED


def test_a_strategy_halt_cancels_that_strategys_orders_only() -> None:
    k = _paper_kernel()
    mine, theirs = k.buy(0.1, price=99.0), k.buy(0.1, price=98.0, strategy="s2")
    k.risk.halt("strategy misbehaves", strategy_id="s1")
    k.execution.process_events()
    assert mine.status is OrderStatus.CANCELED
    assert theirs.status is OrderStatus.ACCEPTED
    assert k.risk.state("s1") is TradingState.HALTED
    assert k.risk.state("s2") is TradingState.ACTIVE
    assert k.buy(0.1, price=97.0, strategy="s2").status is OrderStatus.ACCEPTED
    with pytest.raises(ConfigError, match="no strategy 'nope'"):
        k.risk.halt("?", strategy_id="nope")


def test_halt_with_flatten_closes_every_position_at_market() -> None:
    k = _paper_kernel(RiskConfig(flatten_on_halt=True))
    k.buy(1.5)
    k.sell(0.4, strategy="s2")
    k.buy(2.0, iid=ETH.id, strategy="s2")
    k.quote(99.99, 100.01, BTC.id)
    k.quote(19.99, 20.01, ETH.id)
    resting = k.buy(0.1, price=90.0)
    assert k.portfolio.position("s1", BTC.id).quantity == 1.5
    k.risk.halt("flatten all")
    k.execution.process_events()
    assert resting.status is OrderStatus.CANCELED
    flatten = [o for o in k.cache.orders.values() if "-risk-" in o.client_order_id]
    assert sorted((o.strategy_id, o.instrument_id, o.side, o.quantity) for o in flatten) == [
        ("s1", BTC.id, OrderSide.SELL, 1.5),
        ("s2", BTC.id, OrderSide.BUY, 0.4),
        ("s2", ETH.id, OrderSide.SELL, 2.0),
    ]
    assert {o.exit_reason for o in flatten} == {"kill_switch"}
    k.quote(99.99, 100.01, BTC.id)
    k.quote(19.99, 20.01, ETH.id)
    assert all(o.status is OrderStatus.FILLED for o in flatten)
    assert all(p.is_flat for p in k.cache.positions.values())
    assert k.risk.state() is TradingState.HALTED


def test_holds_expire_and_the_most_severe_one_decides() -> None:
    k = Kernel(RiskConfig())
    risk = k.risk
    k.quote(99.99, 100.01)
    risk.reduce_only("cool down")
    risk.halt("stop")
    assert risk.state() is TradingState.HALTED
    assert [h.rule for h in risk.holds()] == ["MANUAL_REDUCING", KILL_SWITCH]
    risk.resume()
    assert risk.state() is TradingState.ACTIVE and risk.holds() == []


def test_a_losing_streak_reduces_a_strategy_until_its_cooldown_ends() -> None:
    hour = 3_600 * 10**9
    k = Kernel(
        RiskConfig(strategies={"s1": StrategyRisk(loss_streak=LossStreak(losses=2, cooldown="1h"))})
    )
    k.quote(99.99, 100.01)
    for _ in range(2):  # bought at the ask, sold at the bid: two losing trades
        k.buy(0.1)
        k.quote(99.99, 100.01)
        k.sell(0.1)
        k.quote(99.99, 100.01)
    assert [t.pnl < 0 for t in k.cache.round_trips] == [True, True]
    assert k.risk.state("s1") is TradingState.REDUCING
    assert k.risk.state("s2") is TradingState.ACTIVE
    assert k.buy(0.1).status is OrderStatus.DENIED
    k.at(T0 + hour - 1)
    assert k.risk.state("s1") is TradingState.REDUCING
    k.at(T0 + hour)
    assert k.risk.state("s1") is TradingState.ACTIVE
    assert [(c.scope, c.state, c.rule) for c in k.risk.state_changes] == [
        ("s1", TradingState.REDUCING, LossRule.LOSS_STREAK),
        ("s1", TradingState.ACTIVE, "EXPIRED"),
    ]
    assert k.buy(0.1).status is OrderStatus.ACCEPTED


def test_daily_loss_is_measured_from_the_last_equity_of_the_previous_day() -> None:
    watch = EquityWatch("the account", EquityLimits(daily_loss=100.0), 1_000.0, T0)
    assert watch.observe(T0 + 60, 950.0) is None
    assert watch.observe(T0 + 120, 905.0) is None  # lost 95 today
    breach = watch.observe(T0 + 180, 900.0)  # lost exactly 100: the limit is reached
    assert breach is not None and breach.rule == LossRule.MAX_DAILY_LOSS
    assert breach.until_ns == T0 + DAY  # the next UTC midnight
    assert breach.message == (
        "max_daily_loss: the account lost 100.00 today (from 1,000.00 to 900.00), limit 100.00"
    )
    assert watch.observe(T0 + DAY, 880.0) is None  # a new day starts from 900
    assert watch.observe(T0 + DAY + 60, 801.0) is None
    assert watch.observe(T0 + DAY + 120, 800.0) is not None


def test_drawdown_uses_the_tighter_of_amount_and_percent() -> None:
    limits = EquityLimits(drawdown=300.0, drawdown_pct=10.0)
    watch = EquityWatch("strategy a", limits, 1_000.0, T0)
    assert watch.observe(T0 + 1, 2_000.0) is None  # peak 2000: 10 % is 200 < 300
    assert watch.observe(T0 + 2, 1_800.01) is None
    breach = watch.observe(T0 + 3, 1_800.0)
    assert breach is not None and breach.rule == LossRule.MAX_DRAWDOWN
    assert breach.until_ns is None
    watch.restart(1_500.0)  # after a resume the peak is the equity of the moment
    assert watch.observe(T0 + 4, 1_400.0) is None


def test_loss_streak_counts_losing_trades_in_a_row() -> None:
    streak = StreakWatch("strategy a", 3, 60)
    assert [streak.observe(p, T0) for p in (-1.0, -2.0, 0.5, -1.0, -1.0)] == [None] * 5
    breach = streak.observe(-0.1, T0)
    assert breach is not None and breach.until_ns == T0 + 60
    assert breach.message == "loss_streak: strategy a lost 3 trades in a row"
    assert streak.observe(-1.0, T0) is None  # counting starts over
