"""The kernel as a paper-trading node assembles it, driven by hand: clock, cache, bus, portfolio,
OMS, a simulated venue and the risk engine in front of them. Tests move the clock, feed quotes
or bars, and send orders the way a strategy does (through the risk engine)."""

from __future__ import annotations

from typing import Any

from ttquant.core.bus import MessageBus
from ttquant.core.clock import Clock, TestClock
from ttquant.execution.engine import ExecutionEngine
from ttquant.model.cache import Cache
from ttquant.model.data import Bar, BarType, QuoteTick
from ttquant.model.enums import AccountType, OrderSide, OrderType, TimeInForce
from ttquant.model.events import OrderDenied, OrderEvent
from ttquant.model.instruments import Instrument, spot
from ttquant.model.orders import Order
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.config import RiskConfig
from ttquant.risk.engine import RiskEngine
from ttquant.venues.sim.venue import SimulatedVenue

T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
SECOND = 1_000_000_000
MINUTE = 60 * SECOND


def instrument(symbol: str = "BTC/USDT") -> Instrument:
    return spot(symbol, "SIM", price_increment=0.01, size_increment=0.001)


class Kernel:
    def __init__(
        self,
        config: RiskConfig | None = None,
        *,
        clock: Clock | None = None,
        instruments: tuple[Instrument, ...] = (),
        strategies: tuple[str, ...] = ("s1", "s2"),
        cash: float = 1_000_000.0,
        account_type: AccountType = AccountType.MARGIN,
        venue_cls: type[SimulatedVenue] = SimulatedVenue,
    ) -> None:
        self.clock = clock or TestClock(T0)
        self.cache = Cache(self.clock.timestamp_ns)
        self.bus = MessageBus()
        self.portfolio = Portfolio(self.cache)
        self.execution = ExecutionEngine(self.bus, self.cache, self.portfolio)
        self.venue = venue_cls(
            "SIM", self.cache, account_type=account_type, starting_balances={"USDT": cash}
        )
        self.execution.register_venue(self.venue)
        self.portfolio.register_account(self.venue.account, self.venue.positions)
        for inst in instruments or (instrument(),):
            self.cache.add_instrument(inst)
            self.venue.add_instrument(inst)
        self.risk = RiskEngine(self.cache, self.portfolio, self.execution, self.bus)
        self.risk.configure(config)
        self.risk.start(list(strategies), "USDT")
        self.events: list[OrderEvent] = []
        self.bus.subscribe("events.order.*", self.events.append)
        self._seq = 0

    @property
    def iid(self) -> str:
        return next(iter(self.cache.instruments))

    def at(self, ns: int) -> None:
        assert isinstance(self.clock, TestClock)
        self.clock.set_time(ns)

    def quote(self, bid: float, ask: float, iid: str | None = None) -> None:
        iid = iid or self.iid
        now = self.clock.timestamp_ns()
        quote = QuoteTick(iid, bid, ask, 10.0, 10.0, now, now)
        self.cache.quotes[iid] = quote
        self.cache.prices[iid] = (bid + ask) / 2.0
        self.venue.process_quote(quote)
        self.execution.process_events()
        self.bus.publish(f"data.quotes.{iid}", quote)
        self.execution.process_events()

    def bar(self, o: float, h: float, low: float, c: float, iid: str | None = None) -> None:
        """A one-minute bar closing now."""
        iid = iid or self.iid
        now = self.clock.timestamp_ns()
        bar = Bar(BarType(iid, MINUTE), o, h, low, c, 1e6, now - MINUTE, now)
        self.venue.process_bar(bar)
        self.cache.prices[iid] = c
        self.execution.process_events()
        self.bus.publish(f"data.bars.{iid}:1m", bar)
        self.execution.process_events()

    def order(
        self,
        side: OrderSide,
        qty: float,
        *,
        price: float | None = None,
        trigger: float | None = None,
        strategy: str = "s1",
        iid: str | None = None,
        **kwargs: Any,
    ) -> Order:
        self._seq += 1
        if "order_type" not in kwargs:
            if price is None:
                kwargs["order_type"] = (
                    OrderType.MARKET if trigger is None else OrderType.STOP_MARKET
                )
            else:
                kwargs["order_type"] = OrderType.LIMIT if trigger is None else OrderType.STOP_LIMIT
        return Order(
            client_order_id=f"{strategy}-{self._seq}",
            strategy_id=strategy,
            instrument_id=iid or self.iid,
            side=side,
            quantity=qty,
            price=price,
            trigger_price=trigger,
            time_in_force=kwargs.pop("time_in_force", TimeInForce.GTC),
            ts_init=self.clock.timestamp_ns(),
            **kwargs,
        )

    def submit(self, *orders: Order) -> list[Order]:
        self.risk.submit(list(orders))
        self.execution.process_events()
        return list(orders)

    def buy(self, qty: float, **kwargs: Any) -> Order:
        return self.submit(self.order(OrderSide.BUY, qty, **kwargs))[0]

    def sell(self, qty: float, **kwargs: Any) -> Order:
        return self.submit(self.order(OrderSide.SELL, qty, **kwargs))[0]

    def denial(self, order: Order) -> OrderDenied | None:
        for event in order.events:
            if isinstance(event, OrderDenied):
                return event
        return None
