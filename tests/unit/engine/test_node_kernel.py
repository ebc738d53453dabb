"""The live kernel's parts without any I/O: clock, queue, market data step, strategy host."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ttquant.core.bus import MessageBus
from ttquant.engine.config import StrategyConfig
from ttquant.engine.live_data import Inbox, MarketDataStep, NodeClock
from ttquant.engine.node import TradingNode
from ttquant.engine.node_config import parse_node_config
from ttquant.engine.strategy_host import NODE_PAUSED, STALE_DATA, StrategyHost
from ttquant.execution.engine import ExecutionEngine
from ttquant.model.cache import Cache
from ttquant.model.data import QuoteTick, TradeTick
from ttquant.model.enums import AccountType, AggressorSide, OrderSide, OrderStatus, OrderType
from ttquant.model.events import OrderCanceled, OrderDenied, OrderSubmitted
from ttquant.model.instruments import spot
from ttquant.model.orders import Order
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.alerts import AlertManager
from ttquant.risk.engine import RiskEngine
from ttquant.strategy.strategy import Strategy
from ttquant.venues.sim.models import FillModel
from ttquant.venues.sim.venue import SimulatedVenue

IID = "BTC/USDT@SIM"


class Kernel:
    """The node's kernel wired as ``TradingNode`` wires it, with a paper venue."""

    def __init__(self) -> None:
        self.clock = NodeClock()
        self.bus = MessageBus()
        self.cache = Cache(self.clock.timestamp_ns)
        self.portfolio = Portfolio(self.cache)
        self.execution = ExecutionEngine(self.bus, self.cache, self.portfolio)
        self.risk = RiskEngine(self.cache, self.portfolio, self.execution, self.bus)
        inst = spot("BTC/USDT", "SIM", price_increment=0.01, size_increment=0.001)
        self.cache.add_instrument(inst)
        self.sim = SimulatedVenue(
            "SIM",
            self.cache,
            account_type=AccountType.MARGIN,
            starting_balances={"USDT": 1e6},
            fill_model=FillModel(volume_limit=1.0),
        )
        self.sim.add_instrument(inst)
        self.execution.register_venue(self.sim)
        self.portfolio.register_account(self.sim.account, self.sim.positions)
        self.step = MarketDataStep(self.clock, self.cache, self.bus, self.execution, self.sim)
        self.alerts = AlertManager()
        self.states: list[tuple[str, dict[str, Any]]] = []
        self.host = StrategyHost(
            clock=self.clock,
            cache=self.cache,
            portfolio=self.portfolio,
            bus=self.bus,
            risk=self.risk,
            execution=self.execution,
            alerts=self.alerts,
            venue="SIM",
            bar_types=[],
            on_state=lambda sid, values: self.states.append((sid, dict(values))),
        )
        self.risk.start([], "USDT")
        self.t = 1_000_000_000

    def quote(self, bid: float, ask: float) -> None:
        self.t += 1_000
        self.step(QuoteTick(IID, bid, ask, 1.0, 1.0, self.t - 500, self.t))
        self.clock.release()
        self.host.sweep()  # as the node does after each batch

    def trade(self, price: float, size: float) -> None:
        self.t += 1_000
        self.step(TradeTick(IID, price, size, AggressorSide.NONE, "", self.t, self.t))
        self.clock.release()


class Recorder(Strategy):
    """Remembers what it saw; buys a resting limit at ``limit`` on its first quote."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[float, float]] = []  # (bid, position when the quote arrived)
        self.limit: float | None = None
        self.fail_on: int | None = None

    def on_start(self) -> None:
        self.subscribe_quotes()

    def on_quote(self, quote: QuoteTick) -> None:
        self.seen.append((quote.bid_price, self.position().quantity))
        if self.fail_on is not None and len(self.seen) >= self.fail_on:
            raise KeyError("boom")
        if self.limit is not None and len(self.seen) == 1:
            self.buy(0.01, price=self.limit)


def add(k: Kernel, sid: str, **attrs: Any) -> Recorder:
    k.host.add(StrategyConfig(name="x", id=sid, instruments=[IID]), cls=Recorder)
    strategy = k.host.slot(sid).strategy
    assert isinstance(strategy, Recorder)
    for name, value in attrs.items():
        setattr(strategy, name, value)
    k.host.start(sid)
    return strategy


def test_the_venue_matches_before_strategies_see_the_quote() -> None:
    k = Kernel()
    s = add(k, "a", limit=100.0)
    k.quote(101.0, 101.5)  # the buy rests at 100
    order = next(iter(k.cache.orders.values()))
    assert order.status is OrderStatus.ACCEPTED and order.ts_init == k.t  # stamped: quote time
    k.quote(99.0, 99.5)  # ask 99.5 < 100: filled by this quote, at its own limit price
    assert order.status is OrderStatus.FILLED and order.avg_px == 100.0
    assert s.seen == [(101.0, 0.0), (99.0, 0.01)]  # the fill was applied before on_quote


def test_trade_ticks_fill_in_local_time_even_when_the_exchange_clock_lags() -> None:
    k = Kernel()
    add(k, "a", limit=100.0)
    k.quote(101.0, 101.5)
    order = next(iter(k.cache.orders.values()))
    # the exchange stamped the trade long before our clock: it still arrived after the order
    k.t += 1_000
    k.step(TradeTick(IID, 99.9, 0.004, AggressorSide.SELLER, "", 1, k.t))
    assert order.filled_qty == pytest.approx(0.004)  # a trade fills at most its own size


def test_node_clock_holds_event_time_and_never_goes_back() -> None:
    clock = NodeClock()
    clock.hold(5_000)
    assert clock.timestamp_ns() == 5_000
    clock.hold(4_000)
    assert clock.timestamp_ns() == 5_000
    clock.release()
    assert clock.timestamp_ns() > 1_600_000_000 * 10**9


def test_inbox_handles_in_order_after_the_caller_and_survives_a_bad_item() -> None:
    seen: list[object] = []
    drained: list[int] = []

    def handle(item: object) -> None:
        if item == "bad":
            raise RuntimeError("kernel bug")
        seen.append(item)

    async def main() -> None:
        inbox = Inbox(handle)
        inbox.bind(asyncio.get_running_loop())
        inbox.after_drain = lambda: drained.append(len(seen))
        for item in (1, "bad", 2, 3):
            inbox.put(item)
        assert seen == []  # nothing runs inside put
        await asyncio.sleep(0)
        assert seen == [1, 2, 3] and inbox.failures == 1 and drained == [3]

    asyncio.run(main())


def test_a_raising_strategy_is_isolated_and_its_orders_canceled() -> None:
    k = Kernel()
    bad = add(k, "bad", limit=90.0, fail_on=2)
    good = add(k, "good")
    k.quote(100.0, 100.5)
    bad_order = next(o for o in k.cache.orders.values() if o.strategy_id == "bad")
    assert bad_order.status is OrderStatus.ACCEPTED
    k.quote(100.1, 100.6)  # bad raises here
    k.quote(100.2, 100.7)
    assert k.host.slot("bad").status.value == "FAILED"
    assert "KeyError in on_quote" in k.host.slot("bad").error
    assert bad_order.status is OrderStatus.CANCELED
    assert len(bad.seen) == 2 and len(good.seen) == 3  # the other one never missed a quote
    assert k.alerts.history(key="strategy.failed.bad")
    k.host.start("bad")  # an operator may start it again: fresh subscriptions
    bad.fail_on = None
    k.quote(100.3, 100.8)
    assert k.host.slot("bad").status.value == "RUNNING" and len(bad.seen) == 3


def test_gate_refuses_entries_while_paused_or_stale_and_lets_exits_pass() -> None:
    k = Kernel()
    s = add(k, "a")
    k.quote(100.0, 100.5)
    k.clock.hold(k.t)  # as if sent from a callback at that quote
    s.buy(0.02)
    k.clock.release()
    k.quote(100.0, 100.5)  # the market buy fills
    assert s.position().quantity == pytest.approx(0.02)
    k.host.stale_reason = "SIM:market"
    entry = s.buy(0.01)
    exit_ = s.sell(0.01)
    k.execution.process_events()
    assert entry.status is OrderStatus.DENIED
    denied = entry.events[-1]
    assert isinstance(denied, OrderDenied) and denied.reason == STALE_DATA
    assert exit_.status is not OrderStatus.DENIED  # reducing the position passes
    k.host.stale_reason = ""
    k.host.paused_reason = "reconciling"
    paused = s.sell(0.01)
    k.execution.process_events()
    assert paused.status is OrderStatus.DENIED and paused.events[-1].reason == NODE_PAUSED  # type: ignore[attr-defined]


class Stateful(Strategy):
    state_vars = ("count", "label")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = 0
        self.label = "x"

    def on_start(self) -> None:
        self.subscribe_quotes()

    def on_quote(self, quote: QuoteTick) -> None:
        if quote.bid_price > 100:
            self.count += 1


def test_declared_variables_are_journaled_on_change_only_and_restored() -> None:
    k = Kernel()
    k.host.restored_state = {"st": {"count": 41, "label": "y", "other": 1}}
    k.host.add(StrategyConfig(name="x", id="st", instruments=[IID]), cls=Stateful)
    k.host.start("st")
    strategy = k.host.slot("st").strategy
    assert (strategy.count, strategy.label) == (41, "y")  # type: ignore[attr-defined]
    assert not hasattr(strategy, "other")  # only declared variables come back
    for bid in (99.0, 101.0, 99.0, 102.0):
        k.quote(bid, bid + 0.5)
        k.host.persist_changed_state()
    assert k.states == [
        ("st", {"count": 41, "label": "y"}),
        ("st", {"count": 42, "label": "y"}),
        ("st", {"count": 43, "label": "y"}),
    ]


def test_order_ids_continue_after_a_restart() -> None:
    k = Kernel()
    s = add(k, "a")
    k.quote(100.0, 100.5)
    s.buy(0.01)
    s.buy(0.01)
    k.host.remove("a")
    again = add(k, "a")
    assert again.buy(0.01).client_order_id == "a-3"


def test_a_long_running_node_forgets_old_closed_orders_but_not_their_ids() -> None:
    config = parse_node_config(
        b"""
[venue]
exchange = "binance"
[[instruments]]
symbol = "BTC/USDT"
price_increment = 0.01
size_increment = 0.001
""",
        "node.toml",
    )
    node = TradingNode(config)
    iid = "BTC/USDT@BINANCE"
    for n, age_s in ((1, 500), (2, 300), (3, 1)):
        order = Order(
            client_order_id=f"a-{n}",
            strategy_id="a",
            instrument_id=iid,
            side=OrderSide.BUY,
            order_type=OrderType.MARKET,
            quantity=0.001,
        )
        ts = node.clock.timestamp_ns() - age_s * 10**9
        order.apply(OrderSubmitted(**order.event_ids(ts)))
        order.apply(OrderCanceled(**order.event_ids(ts)))
        node.cache.add_order(order)
        node.cache.order_updated(order)
    node._trim_memory(keep_ns=120 * 10**9)
    assert list(node.cache.orders) == ["a-3"]
    node.cache.orders.clear()
    assert node.host._last_order_seq("a") == 2  # the forgotten ones still count
