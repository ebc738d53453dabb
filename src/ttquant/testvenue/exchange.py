"""The test venue's matching and ledger: the simulated venue, driven by a replayed feed.

Orders arriving over REST become kernel ``Order`` objects handed to a
:class:`~ttquant.venues.sim.venue.SimulatedVenue`; replayed quotes and trades drive its matching
engine; its events update the orders (through the same state machine the kernel uses) and are
passed to the exchange dialect, which pushes them in the exchange's own message shapes. Paper
trading, backtests and this venue therefore fill by the same rules.

Time here is the replay's time (the recording's receive clock), so an order arriving "now" is
matched against the recorded prices that follow it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import msgspec

from ttquant.model.account import AccountState
from ttquant.model.cache import Cache
from ttquant.model.data import QuoteTick, TradeTick
from ttquant.model.enums import (
    AccountType,
    AggressorSide,
    LiquiditySide,
    OrderSide,
    OrderType,
    TimeInForce,
)
from ttquant.model.events import (
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderSubmitted,
)
from ttquant.model.instruments import Instrument
from ttquant.model.orders import Order
from ttquant.venues.sim.models import FeeModel, FillModel
from ttquant.venues.sim.venue import SimulatedVenue

_MS = 1_000_000


class VenueTrade(msgspec.Struct, frozen=True):
    trade_id: int
    order_id: int
    client_id: str
    symbol: str
    side: OrderSide
    price: float
    qty: float
    commission: float
    commission_asset: str
    is_maker: bool
    time_ms: int


class VenueOrder:
    """The venue's record of one order: its state machine plus exchange-facing fields."""

    __slots__ = (
        "client_id",
        "created_ms",
        "order",
        "order_id",
        "symbol",
        "trades",
        "type_text",
        "updated_ms",
    )

    def __init__(
        self, order: Order, order_id: int, symbol: str, type_text: str, now_ms: int
    ) -> None:
        self.order = order
        self.order_id = order_id
        self.client_id = order.client_order_id
        self.symbol = symbol
        self.type_text = type_text  # the exchange's own name for the order type
        self.created_ms = now_ms
        self.updated_ms = now_ms
        self.trades: list[VenueTrade] = []

    @property
    def cum_quote(self) -> float:
        return sum(t.price * t.qty for t in self.trades)


class Rejection(msgspec.Struct, frozen=True):
    reason: str  # a RejectReason code of the simulated venue
    message: str


OrderListener = Callable[[VenueOrder, OrderEvent], None]


class Exchange:
    """One account at one venue, matching against replayed data."""

    def __init__(
        self,
        name: str,
        instruments: dict[str, Instrument],
        *,
        account_type: AccountType,
        balances: dict[str, float],
        base_currency: str = "USDT",
        leverage: float = 10.0,
    ) -> None:
        self.name = name
        self.instruments = instruments  # venue symbol -> instrument
        self.now_ns = 0
        self.cache = Cache(lambda: self.now_ns)
        for inst in instruments.values():
            self.cache.add_instrument(inst)
        self.sim = SimulatedVenue(
            name,
            self.cache,
            account_type=account_type,
            base_currency=base_currency,
            starting_balances=balances,
            leverage=leverage,
            fill_model=FillModel(volume_limit=1.0),  # a trade fills at most its own size
            fee_model=FeeModel(),
        )
        for inst in instruments.values():
            self.sim.add_instrument(inst)
        self._pending: list[OrderEvent | AccountState] = []
        self.sim.set_event_handler(self._pending.append)
        self.orders: dict[str, VenueOrder] = {}  # by client id
        self.orders_by_id: dict[int, VenueOrder] = {}
        self.trades: list[VenueTrade] = []
        self._order_ids = itertools.count(1_000_001)
        self._trade_ids = itertools.count(5_000_001)
        self.listeners: list[OrderListener] = []
        self.account_listeners: list[Callable[[], None]] = []

    @property
    def now_ms(self) -> int:
        return self.now_ns // _MS

    # -- market data ----------------------------------------------------------------------------
    def on_quote(
        self, symbol: str, bid: float, ask: float, bid_size: float, ask_size: float
    ) -> None:
        inst = self.instruments.get(symbol)
        if inst is None:
            return
        now = self.now_ns
        quote = QuoteTick(inst.id, bid, ask, bid_size, ask_size, now, now)
        self.cache.quotes[inst.id] = quote
        self.cache.prices[inst.id] = (bid + ask) / 2.0
        self.sim.process_quote(quote)
        self._drain()

    def on_trade(self, symbol: str, price: float, size: float) -> None:
        inst = self.instruments.get(symbol)
        if inst is None:
            return
        now = self.now_ns
        self.cache.prices[inst.id] = price
        self.sim.process_trade(TradeTick(inst.id, price, size, AggressorSide.NONE, "", now, now))
        self._drain()

    # -- commands -------------------------------------------------------------------------------
    def place(
        self,
        symbol: str,
        client_id: str,
        side: OrderSide,
        order_type: OrderType,
        quantity: float,
        *,
        type_text: str,
        price: float | None = None,
        trigger_price: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
    ) -> VenueOrder | Rejection:
        inst = self.instruments.get(symbol)
        if inst is None:
            return Rejection("UNKNOWN_INSTRUMENT", f"invalid symbol {symbol}")
        if client_id in self.orders:
            return Rejection("DUPLICATE_ORDER_ID", f"duplicate client order id {client_id}")
        order = Order(
            client_order_id=client_id,
            strategy_id="venue",
            instrument_id=inst.id,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            trigger_price=trigger_price,
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            ts_init=self.now_ns,
        )
        order.apply(OrderSubmitted(**order.event_ids(self.now_ns)))
        venue_order = VenueOrder(order, next(self._order_ids), symbol, type_text, self.now_ms)
        self.orders[client_id] = venue_order
        self.orders_by_id[venue_order.order_id] = venue_order
        self.sim.submit_list([order])
        rejected = next((e for e in self._pending if isinstance(e, OrderRejected)), None)
        if rejected is not None and rejected.client_order_id == client_id:
            self._pending.clear()
            del self.orders[client_id]
            del self.orders_by_id[venue_order.order_id]
            return Rejection(rejected.reason, rejected.message)
        self._drain()
        return venue_order

    def find(self, client_id: str = "", order_id: int = 0) -> VenueOrder | None:
        if client_id:
            return self.orders.get(client_id)
        return self.orders_by_id.get(order_id)

    def cancel(self, venue_order: VenueOrder) -> str | None:
        """Cancel a working order; the reason it cannot be canceled, or None."""
        if venue_order.order.is_closed:
            return "order is not open"
        self.sim.cancel(venue_order.order)
        refused = self._take_refusal(OrderCancelRejected, venue_order.client_id)
        self._drain()
        return refused

    def amend(self, venue_order: VenueOrder, quantity: float, price: float | None) -> str | None:
        """Change quantity (total, filled part included) and price; a reason on refusal."""
        if venue_order.order.is_closed:
            return "order is not open"
        self.sim.modify(venue_order.order, quantity=quantity, price=price)
        refused = self._take_refusal(OrderModifyRejected, venue_order.client_id)
        self._drain()
        return refused

    def open_orders(self, symbol: str = "") -> list[VenueOrder]:
        return [
            o
            for o in self.orders.values()
            if not o.order.is_closed and (not symbol or o.symbol == symbol)
        ]

    # -- account --------------------------------------------------------------------------------
    def balances(self) -> dict[str, float]:
        return {ccy: bal.total for ccy, bal in self.sim.account.balances.items()}

    def position(self, symbol: str) -> tuple[float, float]:
        """(signed quantity, average entry price) of the venue's net position."""
        inst = self.instruments[symbol]
        pos = self.sim.positions[inst.id]
        return pos.quantity, pos.avg_px

    # -- events ---------------------------------------------------------------------------------
    def _take_refusal(
        self, kind: type[OrderCancelRejected | OrderModifyRejected], client_id: str
    ) -> str | None:
        """Remove the venue's refusal of a request from the queue; its reason, or None."""
        for i, event in enumerate(self._pending):
            if isinstance(event, kind) and event.client_order_id == client_id:
                del self._pending[i]
                return event.reason
        return None

    def _drain(self) -> None:
        pending = self._pending
        if not pending:
            return
        account_changed = False
        while pending:
            event = pending.pop(0)
            if isinstance(event, AccountState):
                continue
            venue_order = self.orders.get(event.client_order_id)
            if venue_order is None:
                continue
            if isinstance(event, OrderFilled):
                event = self._record_trade(venue_order, event)
                account_changed = True
            venue_order.order.apply(event)
            venue_order.updated_ms = self.now_ms
            for listener in self.listeners:
                listener(venue_order, event)
            if isinstance(event, OrderCanceled):
                account_changed = True
        if account_changed:
            for notify in self.account_listeners:
                notify()

    def _record_trade(self, venue_order: VenueOrder, fill: OrderFilled) -> OrderFilled:
        trade_id = next(self._trade_ids)
        trade = VenueTrade(
            trade_id=trade_id,
            order_id=venue_order.order_id,
            client_id=venue_order.client_id,
            symbol=venue_order.symbol,
            side=fill.side,
            price=fill.last_px,
            qty=fill.last_qty,
            commission=fill.commission,
            commission_asset=fill.commission_currency,
            is_maker=fill.liquidity_side is LiquiditySide.MAKER,
            time_ms=self.now_ms,
        )
        venue_order.trades.append(trade)
        self.trades.append(trade)
        return msgspec.structs.replace(fill, trade_id=str(trade_id))
