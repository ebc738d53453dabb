"""Each pre-trade rule on hand-computed cases: what passes, what is denied, and the message."""

from __future__ import annotations

import pytest
from tests.unit.risk._kernel import T0, Kernel, instrument

from ttquant.core.errors import ConfigError
from ttquant.model.enums import ContingencyType, OrderSide, OrderStatus, TimeInForce
from ttquant.model.events import OrderModifyRejected
from ttquant.model.orders import Order
from ttquant.risk.config import Limits, RiskConfig, StrategyRisk
from ttquant.risk.engine import DENIED_TOPIC
from ttquant.risk.rules import RiskRule

BUY, SELL = OrderSide.BUY, OrderSide.SELL
BTC, ETH = instrument("BTC/USDT"), instrument("ETH/USDT")
DAY = 86_400 * 1_000_000_000


def _reason(k: Kernel, order: Order) -> str | None:
    denial = k.denial(order)
    return None if denial is None else denial.reason


def _message(k: Kernel, order: Order) -> str:
    denial = k.denial(order)
    assert denial is not None, f"{order} was not denied"
    return denial.message


def _filled_long(k: Kernel, qty: float, strategy: str = "s1", iid: str | None = None) -> None:
    """Buy ``qty`` at market and fill it on the next quote."""
    iid = iid or k.iid
    order = k.buy(qty, strategy=strategy, iid=iid)
    q = k.cache.quotes[iid]
    k.quote(q.bid_price, q.ask_price, iid)
    assert order.status is OrderStatus.FILLED, order


def test_the_tightest_order_size_limit_applies_and_is_named() -> None:
    k = Kernel(
        RiskConfig(
            max_order_qty=5.0,
            strategies={"s1": StrategyRisk(max_order_qty=3.0)},
            instruments={BTC.id: Limits(max_order_qty=2.0)},
        ),
        instruments=(BTC, ETH),
    )
    k.quote(99.99, 100.01, BTC.id)
    k.quote(19.99, 20.01, ETH.id)
    big = k.buy(2.5, price=99.0)
    assert _reason(k, big) == RiskRule.MAX_ORDER_QTY
    assert _message(k, big) == "max_order_qty: quantity 2.5 is above 2 (set for BTC/USDT@SIM)"
    assert _reason(k, k.buy(3.5, price=19.0, iid=ETH.id)) == RiskRule.MAX_ORDER_QTY  # s1's 3
    assert _reason(k, k.buy(3.5, price=19.0, iid=ETH.id, strategy="s2")) is None  # account's 5
    assert _reason(k, k.buy(5.5, price=19.0, iid=ETH.id, strategy="s2")) == RiskRule.MAX_ORDER_QTY


def test_order_notional_uses_the_limit_price_or_the_last_price() -> None:
    k = Kernel(RiskConfig(max_order_notional=100.0))
    early = k.buy(0.5)  # no price known yet: the order cannot be valued
    assert _message(k, early).startswith("max_order_notional: no price for BTC/USDT@SIM")
    k.quote(99.99, 100.01)
    over = k.buy(0.9, price=112.0)  # 100.80 at its limit price
    assert _message(k, over) == (
        "max_order_notional: 100.80 USDT is above 100.00 (set for the account)"
    )
    assert _reason(k, k.buy(0.9, price=110.0)) is None  # 99.00
    assert _reason(k, k.buy(1.01)) == RiskRule.MAX_ORDER_NOTIONAL  # 1.01 at the last price 100
    assert _reason(k, k.buy(0.99)) is None


def test_price_band_compares_limits_with_the_mid_and_stop_limits_with_their_trigger() -> None:
    k = Kernel(RiskConfig(price_band_pct=2.0))
    k.quote(99.99, 100.01)  # mid 100.00
    far = k.sell(0.1, price=102.5)
    assert _message(k, far) == (
        "price_band_pct: limit 102.5 is 2.50 % from the market (100), band 2 % (set for the "
        "account)"
    )
    assert _reason(k, k.sell(0.1, price=101.9)) is None
    assert _reason(k, k.buy(0.1, price=97.9)) == RiskRule.PRICE_BAND
    # a breakout stop-limit far from the market is fine if its limit is near its trigger
    assert _reason(k, k.buy(0.1, price=121.0, trigger=120.0)) is None
    assert _reason(k, k.buy(0.1, price=125.0, trigger=120.0)) == RiskRule.PRICE_BAND
    assert _reason(k, k.buy(0.1)) is None  # market orders have no price to check


def test_position_limits_count_open_orders_on_the_same_side_and_let_reductions_pass() -> None:
    k = Kernel(
        RiskConfig(
            instruments={BTC.id: Limits(max_position_qty=2.0)},
            strategies={"s1": StrategyRisk(max_position_qty=1.8)},
        )
    )
    k.quote(99.99, 100.01)
    _filled_long(k, 1.5)  # s1 long 1.5
    assert _reason(k, k.buy(0.4, price=99.0)) == RiskRule.MAX_POSITION_QTY  # s1: 1.9 > 1.8
    assert _message(k, k.buy(0.4, price=98.0)) == (
        "max_position_qty: strategy s1 would hold 1.9 BTC/USDT@SIM, limit 1.8 (set for strategy s1)"
    )
    resting = k.buy(0.2, price=99.0)  # 1.7 with the resting order
    assert _reason(k, resting) is None
    assert _reason(k, k.buy(0.2, price=98.5)) == RiskRule.MAX_POSITION_QTY  # 1.9 with both
    # the account: s1's 1.5 + 0.2 resting + s2's order
    assert _reason(k, k.buy(0.2, strategy="s2")) is None  # 1.9
    denied = k.buy(0.31, strategy="s2")  # 2.21 with the 0.2 above in flight
    assert _message(k, denied) == (
        "max_position_qty: the account would hold 2.21 BTC/USDT@SIM, limit 2 (set for BTC/USDT@SIM)"
    )
    # reductions always pass, even past a limit lowered below the position
    k.risk.update_limits({"max_position_qty": 0.5}, strategy="s1")
    assert _reason(k, k.sell(1.0)) is None
    assert _reason(k, k.sell(0.9, strategy="s2")) is None  # s2 has none: opens short 0.9... and
    # ... the account nets down (1.9 - 1.0 - 0.9): no limit is approached


def test_gross_and_net_exposure_over_instruments() -> None:
    k = Kernel(
        RiskConfig(max_gross_exposure=300.0, max_net_exposure=250.0),
        instruments=(BTC, ETH),
    )
    k.quote(99.99, 100.01, BTC.id)  # mid 100
    k.quote(19.99, 20.01, ETH.id)  # mid 20
    _filled_long(k, 2.0, iid=BTC.id)  # +200
    short = k.sell(4.0, iid=ETH.id)  # -80 once filled
    k.quote(19.99, 20.01, ETH.id)
    assert short.status is OrderStatus.FILLED
    # gross 280, net 120
    over = k.sell(2.0, iid=ETH.id)  # gross 320
    assert _message(k, over) == (
        "max_gross_exposure: the account would hold 320.00 USDT gross, limit 300.00 "
        "(set for the account)"
    )
    assert _reason(k, k.buy(1.0, iid=ETH.id)) is None  # covers part of the short
    k.quote(19.99, 20.01, ETH.id)  # ETH -3: gross 260, net 140
    k.risk.update_limits({"max_gross_exposure": None, "max_net_exposure": 150.0})
    assert _reason(k, k.buy(0.2, price=99.0, iid=BTC.id)) == RiskRule.MAX_NET_EXPOSURE  # 160
    assert _reason(k, k.sell(1.0, iid=ETH.id)) is None  # net falls to 120


def test_duplicates_are_per_strategy_and_only_while_open() -> None:
    k = Kernel(RiskConfig(deny_duplicates=True))
    k.quote(99.99, 100.01)
    first = k.buy(0.1, price=99.0)
    again = k.buy(0.1, price=99.0)
    assert _reason(k, again) == RiskRule.DUPLICATE_ORDER
    assert _message(k, again).startswith(
        "deny_duplicates: strategy s1 already has an open BUY LIMIT 0.1 BTC/USDT@SIM"
    )
    assert _reason(k, k.buy(0.1, price=98.99)) is None  # another price
    assert _reason(k, k.buy(0.1, price=99.0, strategy="s2")) is None  # another strategy
    k.risk.cancel(first)
    k.execution.process_events()
    assert _reason(k, k.buy(0.1, price=99.0)) is None


def test_self_trade_prevention_for_the_account_or_each_strategy() -> None:
    k = Kernel(RiskConfig(self_trade="account"))
    k.quote(99.99, 100.01)
    ask = k.sell(0.5, price=101.0)
    crossing = k.buy(0.1, price=101.5, strategy="s2")
    assert _message(k, crossing) == (
        f"self_trade: BUY at 101.5 would trade with our own order {ask.client_order_id} "
        "resting at 101 (account)"
    )
    assert _reason(k, k.buy(0.1, strategy="s2")) == RiskRule.SELF_TRADE  # market crosses all
    assert _reason(k, k.buy(0.1, price=100.5, strategy="s2")) is None
    k.risk.update_limits({"self_trade": "strategy"})
    assert _reason(k, k.buy(0.1, price=101.5, strategy="s2")) is None  # another strategy's
    assert _reason(k, k.buy(0.1, price=101.5)) == RiskRule.SELF_TRADE  # its own


def test_open_order_limits_per_account_strategy_and_instrument() -> None:
    k = Kernel(
        RiskConfig(
            max_open_orders=4,
            strategies={"s1": StrategyRisk(max_open_orders=2)},
            instruments={ETH.id: Limits(max_open_orders=1)},
        ),
        instruments=(BTC, ETH),
    )
    k.quote(99.99, 100.01, BTC.id)
    k.quote(19.99, 20.01, ETH.id)
    a, b = k.buy(0.1, price=99.0), k.buy(0.1, price=98.0)
    third = k.buy(0.1, price=97.0)
    assert _message(k, third) == (
        "max_open_orders: strategy s1 has 2 open, 1 more would pass the limit 2"
    )
    assert _reason(k, k.buy(0.1, price=19.0, strategy="s2", iid=ETH.id)) is None
    assert _reason(k, k.buy(0.1, price=18.0, strategy="s2", iid=ETH.id)) == (
        RiskRule.MAX_OPEN_ORDERS  # instrument ETH: 1
    )
    assert _reason(k, k.buy(0.1, price=96.0, strategy="s2")) is None  # account: 4
    assert _message(k, k.buy(0.1, price=95.0, strategy="s2")).startswith(
        "max_open_orders: the account has 4 open"
    )
    k.risk.cancel(a)
    k.execution.process_events()
    assert _reason(k, k.buy(0.1, price=94.0)) is None
    assert b.status is OrderStatus.ACCEPTED


def test_daily_cancel_count_ignores_ioc_and_resets_at_midnight() -> None:
    k = Kernel(RiskConfig(instruments={BTC.id: Limits(max_daily_cancels=2)}))
    k.quote(99.99, 100.01)
    ioc = k.buy(0.1, price=90.0, time_in_force=TimeInForce.IOC)
    k.quote(99.99, 100.01)  # the IOC is canceled by the venue: not a cancel of ours
    assert ioc.status is OrderStatus.CANCELED
    for price in (91.0, 92.0):
        order = k.buy(0.1, price=price)
        k.risk.cancel(order)
        k.execution.process_events()
        k.risk.cancel(order)  # a second request for a canceled order counts nothing
    blocked = k.buy(0.1, price=93.0)
    assert _message(k, blocked) == (
        "max_daily_cancels: the account canceled 2 BTC/USDT@SIM orders today, limit 2 "
        "(set for BTC/USDT@SIM)"
    )
    resting = k.buy(0.1, price=93.0, strategy="s2")
    assert _reason(k, resting) == RiskRule.MAX_DAILY_CANCELS
    k.at(T0 + DAY)  # a new UTC day
    assert _reason(k, k.buy(0.1, price=93.0)) is None


def test_cancel_ratio_is_judged_from_enough_orders() -> None:
    k = Kernel(RiskConfig(max_cancel_ratio=0.5, cancel_ratio_min_orders=4))
    k.quote(99.99, 100.01)
    orders = [k.buy(0.1, price=90.0 + i) for i in range(3)]
    for order in orders:
        k.risk.cancel(order)
    k.execution.process_events()
    assert _reason(k, k.buy(0.1, price=95.0)) is None  # 3 orders so far: too few to judge
    denied = k.buy(0.1, price=96.0)  # 3 of 4 canceled: 0.75
    assert _message(k, denied) == (
        "max_cancel_ratio: the account canceled 3 of 4 BTC/USDT@SIM orders today, limit 0.5 "
        "(set for the account)"
    )


def test_reducing_lets_only_position_reducing_orders_through() -> None:
    k = Kernel(RiskConfig())
    k.quote(99.99, 100.01)
    _filled_long(k, 1.0)
    k.risk.reduce_only("test", strategy_id="s1")
    opened = k.buy(0.1)
    assert _message(k, opened) == (
        "trading reducing for strategy s1: only orders that reduce the position pass "
        "(MANUAL_REDUCING: reducing: test)"
    )
    assert _reason(k, k.sell(1.5)) == RiskRule.TRADING_REDUCING  # would flip to short
    partial = k.sell(0.6, price=101.0)
    assert _reason(k, partial) is None
    assert _reason(k, k.sell(0.6, price=101.5)) == RiskRule.TRADING_REDUCING  # 1.2 with it
    assert _reason(k, k.sell(0.4, price=102.0)) is None  # exactly flat with both
    assert _reason(k, k.sell(0.5, trigger=90.0, reduce_only=True)) is None
    assert _reason(k, k.buy(0.1, strategy="s2")) is None  # another strategy is not held
    k.risk.halt("stop", strategy_id="s2")
    assert _reason(k, k.sell(0.1, strategy="s2")) == RiskRule.TRADING_HALTED
    k.risk.resume(strategy_id="s1")
    assert _reason(k, k.buy(0.1)) is None


def test_a_modify_is_checked_like_the_order_it_would_make() -> None:
    k = Kernel(RiskConfig(max_order_qty=1.0, price_band_pct=2.0))
    k.quote(99.99, 100.01)
    order = k.buy(0.5, price=99.0)
    rejected = []
    for changes in ({"quantity": 1.5}, {"price": 97.0}, {"quantity": 0.8, "price": 98.5}):
        before = len(order.events)
        k.risk.modify(order, **changes)
        k.execution.process_events()
        rejected += [e for e in order.events[before:] if isinstance(e, OrderModifyRejected)]
    assert [e.reason for e in rejected] == [RiskRule.MAX_ORDER_QTY, RiskRule.PRICE_BAND]
    assert rejected[0].message == "max_order_qty: quantity 1.5 is above 1 (set for the account)"
    assert order.status is OrderStatus.ACCEPTED
    assert (order.quantity, order.price) == (0.8, 98.5)
    k.risk.reduce_only("test")
    before = len(order.events)
    k.risk.modify(order, quantity=0.9)  # adds to an order that opens a position
    k.risk.modify(order, quantity=0.3)  # takes away: fine
    k.execution.process_events()
    refused = [e for e in order.events[before:] if isinstance(e, OrderModifyRejected)]
    assert [e.reason for e in refused] == [RiskRule.TRADING_REDUCING]
    assert order.quantity == 0.3
    k.risk.halt("stop")  # the kill switch cancels the order
    k.execution.process_events()
    assert order.status.value == "CANCELED"


def test_a_contingent_list_passes_or_is_denied_whole() -> None:
    k = Kernel(RiskConfig(max_order_qty=1.0))
    k.quote(99.99, 100.01)
    entry = k.order(BUY, 2.0)
    stop = k.order(SELL, 2.0, trigger=95.0, reduce_only=True)
    entry.contingency = ContingencyType.OTO
    entry.linked_order_ids = [stop.client_order_id]
    stop.parent_order_id = entry.client_order_id
    k.submit(entry, stop)
    assert [o.status for o in (entry, stop)] == [OrderStatus.DENIED] * 2
    assert {_reason(k, o) for o in (entry, stop)} == {RiskRule.MAX_ORDER_QTY}
    assert k.risk.denials[RiskRule.MAX_ORDER_QTY] == 2


def test_every_denial_is_published_and_counted() -> None:
    k = Kernel(RiskConfig(max_order_qty=1.0))
    seen: list[object] = []
    k.bus.subscribe(DENIED_TOPIC, seen.append)
    k.quote(99.99, 100.01)
    order = k.order(BUY, 3.0)
    k.risk.submit([order])
    assert len(seen) == 1  # at once, for monitors
    assert order.status is OrderStatus.INITIALIZED  # its owner hears it after its callback
    assert not [e for e in k.events if e.client_order_id == order.client_order_id]
    k.execution.process_events()
    assert order.status.value == "DENIED"
    assert [type(e).__name__ for e in k.events if e.client_order_id == order.client_order_id] == [
        "OrderDenied"
    ]
    assert k.risk.summary()["denials"] == {RiskRule.MAX_ORDER_QTY: 1}


def test_limits_change_at_run_time_only_when_valid() -> None:
    k = Kernel(RiskConfig(max_order_qty=1.0))
    k.quote(99.99, 100.01)
    k.risk.update_limits({"max_order_qty": 3.0})
    assert _reason(k, k.buy(2.0)) is None
    with pytest.raises(ConfigError, match=r"risk\.max_order_qty must be a positive number"):
        k.risk.update_limits({"max_order_qty": -1.0})
    with pytest.raises(ConfigError, match=r"risk\.strategies\.s1: .*unknown field `max_qty`"):
        k.risk.update_limits({"max_qty": 2.0}, strategy="s1")
    with pytest.raises(ConfigError, match=r"no strategy 'nope' in this run"):
        k.risk.update_limits({"max_order_qty": 2.0}, strategy="nope")
    with pytest.raises(ConfigError, match=r"unknown instrument 'XRP/USDT@SIM'"):
        k.risk.update_limits({"max_order_qty": 2.0}, instrument="XRP/USDT@SIM")
    assert k.risk.config is not None and k.risk.config.max_order_qty == 3.0  # unchanged
    assert _reason(k, k.buy(3.5)) == RiskRule.MAX_ORDER_QTY
    k.risk.configure(None)  # no limits at all: orders pass untouched
    assert _reason(k, k.buy(3.5)) is None
