"""The Strategy base class: the one API a strategy sees in backtest, paper and live.

A strategy reacts to callbacks (``on_start``, ``on_bar``, ``on_trade``, ``on_quote``,
``on_order``, ``on_fill``, ``on_timer``, ``on_stop``) and acts through its context: subscribe to
data, submit/cancel/modify orders, read ``self.clock``, ``self.cache`` and ``self.portfolio``.
It never learns which mode it runs in. Parameters are declared with :class:`Param`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ttquant.core.clock import Clock, TimeEvent
from ttquant.core.errors import ConfigError, InstrumentError
from ttquant.model.cache import Cache
from ttquant.model.data import (
    Bar,
    BarType,
    QuoteTick,
    TradeTick,
    bar_topic,
    parse_step,
    quote_topic,
    trade_topic,
)
from ttquant.model.enums import (
    ContingencyType,
    OrderSide,
    OrderType,
    TimeInForce,
    TrailingOffsetType,
)
from ttquant.model.events import OrderEvent, OrderFilled
from ttquant.model.orders import Order
from ttquant.model.position import Position
from ttquant.risk.stops import StopManager
from ttquant.strategy.params import ParamSpec, collect_params, resolve_params

if TYPE_CHECKING:
    from ttquant.core.bus import MessageBus
    from ttquant.execution.engine import TradingCommands
    from ttquant.portfolio.portfolio import Portfolio

_INDICATOR_PRIORITY = 10  # indicators bound to bars update before the strategy sees the bar


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Strategy:
    """Base class of every strategy. Subclass it, declare ``Param``s, override callbacks."""

    name: ClassVar[str] = ""
    params_spec: ClassVar[dict[str, ParamSpec]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = _snake(cls.__name__)
        cls.params_spec = collect_params(cls)

    def __init__(
        self, *, strategy_id: str | None = None, instruments: Sequence[str] = (), **params: Any
    ) -> None:
        self.id = strategy_id or self.name
        self.params = resolve_params(self.name, self.params_spec, params)
        for key, value in self.params.items():
            setattr(self, key, value)
        self.instruments: list[str] = list(instruments)
        self.bar_types: list[BarType] = []
        self.subscribed_bar_types: list[BarType] = []  # what the engine must deliver
        self.log = logging.getLogger(f"ttquant.strategy.{self.id}")
        self._order_seq = 0
        self._bound = False

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- wiring (called by the engine) ----------------------------------------------------------
    def bind(
        self,
        *,
        clock: Clock,
        cache: Cache,
        portfolio: Portfolio,
        bus: MessageBus,
        execution: TradingCommands,
        bar_types: Sequence[BarType],
    ) -> None:
        """Attach the strategy to a kernel. ``bar_types`` are the bars available to it;
        ``execution`` takes its orders (the risk engine, which passes them on to the OMS)."""
        self.clock = clock
        self.cache = cache
        self.portfolio = portfolio
        self._bus = bus
        self._execution = execution
        if not self.instruments:
            self.instruments = sorted({bt.instrument_id for bt in bar_types}) or sorted(
                cache.instruments
            )
        for iid in self.instruments:
            cache.instrument(iid)  # unknown instrument: a clear error now, not mid-run
        self.bar_types = [bt for bt in bar_types if bt.instrument_id in self.instruments]
        cls = type(self)
        if cls.on_order is not Strategy.on_order or cls.on_fill is not Strategy.on_fill:
            # only strategies that listen pay for the dispatch of every order event
            bus.subscribe(f"events.order.{self.id}", self._handle_order_event)
        self._bound = True

    @property
    def instrument(self) -> str:
        """The first (often the only) instrument this strategy trades."""
        if not self.instruments:
            raise ConfigError(f"strategy {self.id!r} has no instrument to trade")
        return self.instruments[0]

    # -- callbacks (override) -------------------------------------------------------------------
    def on_start(self) -> None:
        """Subscribe to data and set up indicators. Default: the bars of every instrument."""
        self.subscribe_bars()

    def on_bar(self, bar: Bar) -> None: ...
    def on_trade(self, tick: TradeTick) -> None: ...
    def on_quote(self, quote: QuoteTick) -> None: ...
    def on_order(self, event: OrderEvent) -> None: ...
    def on_fill(self, fill: OrderFilled) -> None: ...
    def on_timer(self, event: TimeEvent) -> None: ...
    def on_stop(self) -> None: ...

    def _handle_order_event(self, event: OrderEvent) -> None:
        self.on_order(event)
        if type(event) is OrderFilled:
            self.on_fill(event)

    # -- data -----------------------------------------------------------------------------------
    def bar_type(self, instrument_id: str | None = None, step: str | None = None) -> BarType:
        """The bar type of ``instrument_id`` (default: first instrument) at ``step``."""
        iid = instrument_id or self.instrument
        if step is not None:
            return BarType.time(iid, step)
        for bt in self.bar_types:
            if bt.instrument_id == iid:
                return bt
        raise ConfigError(f"strategy {self.id!r}: no bars available for {iid}")

    def subscribe_bars(self, bar_type: BarType | None = None) -> None:
        """Receive ``on_bar`` for ``bar_type`` (default: every available bar type).

        A time bar type with no data of its own (``self.bar_type(step="1h")`` over 1-minute
        data) is aggregated from the instrument's shortest bars that divide its step; a higher
        bar reaches ``on_bar`` at its close, before the lower bar that closes it. Subscribe in
        ``on_start``.
        """
        for bt in [bar_type] if bar_type is not None else self.bar_types:
            self._bus.subscribe(bar_topic(bt), self.on_bar)
            if bt not in self.subscribed_bar_types:
                self.subscribed_bar_types.append(bt)

    def subscribe_trades(self, instrument_id: str | None = None) -> None:
        self._bus.subscribe(trade_topic(instrument_id or self.instrument), self.on_trade)

    def subscribe_quotes(self, instrument_id: str | None = None) -> None:
        self._bus.subscribe(quote_topic(instrument_id or self.instrument), self.on_quote)

    def register_indicator(self, indicator: Any, bar_type: BarType | None = None) -> None:
        """Update ``indicator`` (anything with ``handle_bar``) with each bar, before ``on_bar``."""
        bt = bar_type or self.bar_type()
        self._bus.subscribe(bar_topic(bt), indicator.handle_bar, priority=_INDICATOR_PRIORITY)
        if bt not in self.subscribed_bar_types:
            self.subscribed_bar_types.append(bt)

    def set_timer(self, name: str, interval: str | int, callback: Any = None) -> None:
        """Call ``callback`` (default ``on_timer``) every ``interval`` ("5s", "1m" or ns)."""
        step = parse_step(interval) if isinstance(interval, str) else interval
        self.clock.set_timer(f"{self.id}.{name}", step, callback or self.on_timer)

    # -- state ----------------------------------------------------------------------------------
    def position(self, instrument_id: str | None = None) -> Position:
        return self.cache.position(self.id, instrument_id or self.instrument)

    @property
    def equity(self) -> float:
        """The strategy's capital plus its PnL when it has an allocation, else the account's."""
        return self.portfolio.strategy_equity(self.id)

    def open_orders(self, instrument_id: str | None = None) -> list[Order]:
        return self.cache.open_orders(self.id, instrument_id)

    @property
    def stops(self) -> StopManager:
        """Exits of this strategy's positions: ``self.stops.protect(ExitPlan(...))`` in
        ``on_start`` (see :mod:`ttquant.risk.stops`). Created on first use, once bound."""
        manager: StopManager | None = self.__dict__.get("_stop_manager")
        if manager is None:
            if not self._bound:
                raise ConfigError(f"strategy {self.id!r}: self.stops is available from on_start")
            manager = self._stop_manager = StopManager(self, self._bus)
        return manager

    # -- orders ---------------------------------------------------------------------------------
    def order(
        self,
        side: OrderSide,
        quantity: float,
        *,
        instrument_id: str | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
        order_type: OrderType | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_ns: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        trailing_offset: float | None = None,
        trailing_offset_type: TrailingOffsetType = TrailingOffsetType.PRICE,
        exit_reason: str = "",
        tags: tuple[str, ...] = (),
    ) -> Order:
        """Create (not submit) an order. The type follows from the prices given unless named:
        none → MARKET, ``price`` → LIMIT, ``trigger_price`` → STOP_MARKET, both → STOP_LIMIT."""
        if order_type is None:
            if price is None:
                order_type = OrderType.MARKET if trigger_price is None else OrderType.STOP_MARKET
            else:
                order_type = OrderType.LIMIT if trigger_price is None else OrderType.STOP_LIMIT
        iid = instrument_id or self.instrument
        if iid not in self.cache.instruments:
            raise InstrumentError(f"strategy {self.id!r}: unknown instrument {iid!r}")
        if time_in_force is TimeInForce.GTD and expire_ns is None:
            raise ConfigError("a GTD order needs expire_ns")
        self._order_seq += 1
        return Order(
            client_order_id=f"{self.id}-{self._order_seq}",
            strategy_id=self.id,
            instrument_id=iid,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            trigger_price=trigger_price,
            time_in_force=time_in_force,
            expire_ns=expire_ns,
            post_only=post_only,
            reduce_only=reduce_only,
            trailing_offset=trailing_offset,
            trailing_offset_type=trailing_offset_type,
            exit_reason=exit_reason,
            tags=tags,
            ts_init=self.clock.timestamp_ns(),
        )

    def submit(self, order: Order) -> Order:
        self._execution.submit([order])
        return order

    def buy(self, quantity: float, **kwargs: Any) -> Order:
        """Create and submit a buy order (see :meth:`order` for the keyword arguments)."""
        return self.submit(self.order(OrderSide.BUY, quantity, **kwargs))

    def sell(self, quantity: float, **kwargs: Any) -> Order:
        return self.submit(self.order(OrderSide.SELL, quantity, **kwargs))

    def trailing_stop(
        self,
        side: OrderSide,
        quantity: float,
        offset: float,
        *,
        percent: bool = False,
        reduce_only: bool = True,
        instrument_id: str | None = None,
    ) -> Order:
        """Submit a trailing stop ``offset`` (a price, or a percent) behind the market."""
        return self.submit(
            self.order(
                side,
                quantity,
                instrument_id=instrument_id,
                order_type=OrderType.TRAILING_STOP,
                trailing_offset=offset,
                reduce_only=reduce_only,
                exit_reason="trailing_stop",
                trailing_offset_type=TrailingOffsetType.PERCENT
                if percent
                else TrailingOffsetType.PRICE,
            )
        )

    def submit_oco(self, first: Order, second: Order) -> list[Order]:
        """Submit two orders where a fill on one reduces (or cancels) the other."""
        _link_oco(first, second)
        self._execution.submit([first, second])
        return [first, second]

    def bracket(
        self,
        side: OrderSide,
        quantity: float,
        *,
        stop_loss: float,
        take_profit: float | None = None,
        entry_price: float | None = None,
        entry_trigger: float | None = None,
        instrument_id: str | None = None,
    ) -> list[Order]:
        """Submit an entry with a stop-loss and an optional take-profit.

        The exits are held until the entry fills, sized to what it filled, and cancel each other
        (OCO). The entry is a market order, a limit order at ``entry_price``, a stop order
        triggered at ``entry_trigger`` (a breakout entry), or a stop-limit with both.
        """
        entry = self.order(
            side,
            quantity,
            instrument_id=instrument_id,
            price=entry_price,
            trigger_price=entry_trigger,
        )
        exit_side = side.opposite
        stop = self.order(
            exit_side,
            quantity,
            instrument_id=instrument_id,
            trigger_price=stop_loss,
            reduce_only=True,
            exit_reason="stop_loss",
        )
        orders = [entry, stop]
        if take_profit is not None:
            tp = self.order(
                exit_side,
                quantity,
                instrument_id=instrument_id,
                price=take_profit,
                reduce_only=True,
                exit_reason="take_profit",
            )
            _link_oco(stop, tp)
            orders.append(tp)
        entry.contingency = ContingencyType.OTO
        list_id = f"{entry.client_order_id}-L"
        for child in orders[1:]:
            child.parent_order_id = entry.client_order_id
        for o in orders:
            o.order_list_id = list_id
        entry.linked_order_ids = [o.client_order_id for o in orders[1:]]
        self._execution.submit(orders)
        return orders

    def cancel(self, order: Order) -> None:
        self._execution.cancel(order)

    def cancel_all(self, instrument_id: str | None = None) -> None:
        for order in self.open_orders(instrument_id):
            self._execution.cancel(order)

    def modify(
        self,
        order: Order,
        *,
        quantity: float | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
    ) -> None:
        self._execution.modify(order, quantity, price, trigger_price)

    def close_position(
        self, instrument_id: str | None = None, reason: str = "signal"
    ) -> Order | None:
        """Flatten the position with one market order; None when nothing needs trading.

        The strategy's resting exit orders on the instrument (stop-loss, take-profit, trailing
        stops: its reduce-only orders) are canceled first, so none of them can later close a
        position opened afterwards; orders already in flight count towards flat.
        """
        iid = instrument_id or self.instrument
        for order in self.open_orders(iid):
            if order.reduce_only and order.order_type is not OrderType.MARKET:
                self.cancel(order)
        return self.order_target_quantity(0.0, iid, reason)

    def order_target_quantity(
        self, target: float, instrument_id: str | None = None, reason: str = "signal"
    ) -> Order | None:
        """Trade towards a signed position of ``target`` with one market order.

        Orders already in flight count towards the target, so calling this on every bar does
        not stack duplicates while a fill is pending. None when nothing needs to be traded.
        """
        iid = instrument_id or self.instrument
        inst = self.cache.instrument(iid)
        current = self.position(iid).quantity
        for order in self.open_orders(iid):
            if order.order_type is OrderType.MARKET:
                current += order.side.sign * order.leaves_qty
        delta = inst.round_quantity(abs(target - current)) * (1 if target > current else -1)
        if delta == 0.0:
            return None
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        reduces = current != 0.0 and abs(target) < abs(current) and (target * current) >= 0
        return self.submit(
            self.order(
                side,
                abs(delta),
                instrument_id=iid,
                exit_reason=reason if reduces or target == 0 else "",
            )
        )

    def order_target_value(
        self, value: float, instrument_id: str | None = None, reason: str = "signal"
    ) -> Order | None:
        """Target a signed position worth ``value`` (account currency) at the last price."""
        iid = instrument_id or self.instrument
        inst = self.cache.instrument(iid)
        price = self.cache.price(iid)
        if math.isnan(price):
            raise InstrumentError(f"no price for {iid} yet: cannot size by value")
        qty = inst.round_quantity(abs(value) / (price * inst.multiplier))
        return self.order_target_quantity(math.copysign(qty, value), iid, reason)

    def order_target_percent(
        self, fraction: float, instrument_id: str | None = None, reason: str = "signal"
    ) -> Order | None:
        """Target a position worth ``fraction`` of :attr:`equity` (0.5 == half; negative is
        short): of the strategy's own capital when it has an allocation."""
        return self.order_target_value(fraction * self.equity, instrument_id, reason)


def _link_oco(a: Order, b: Order) -> None:
    for order, other in ((a, b), (b, a)):
        order.contingency = ContingencyType.OCO
        order.linked_order_ids = [other.client_order_id]
