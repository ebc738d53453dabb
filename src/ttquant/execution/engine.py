"""The execution engine (OMS): routes orders to venues and venue events back to their owners.

Venue events are queued and applied in order by :meth:`ExecutionEngine.process_events`, never
inside the venue call that produced them. A strategy that submits an order therefore finishes
its callback before hearing about the order, in a backtest exactly as live, and the single-
threaded kernel never re-enters a strategy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

from ttquant.core.bus import MessageBus
from ttquant.core.errors import InstrumentError
from ttquant.model.account import AccountState
from ttquant.model.cache import Cache
from ttquant.model.events import (
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderSubmitted,
)
from ttquant.model.orders import Order, can_apply
from ttquant.portfolio.portfolio import UNATTRIBUTED, Portfolio


class VenueClient(Protocol):
    """What the execution engine needs from a venue, simulated or live."""

    name: str

    def set_event_handler(self, handler: Callable[[OrderEvent | AccountState], None]) -> None: ...
    def submit_list(self, orders: Sequence[Order]) -> None: ...
    def cancel(self, order: Order) -> None: ...
    def modify(
        self,
        order: Order,
        quantity: float | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
    ) -> None: ...


class TradingCommands(Protocol):
    """What a strategy sends orders through: the risk engine, in front of the OMS."""

    def submit(self, orders: Sequence[Order]) -> None: ...
    def cancel(self, order: Order) -> None: ...
    def modify(
        self,
        order: Order,
        quantity: float | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
    ) -> None: ...


_REQUEST_REJECTIONS = (OrderCancelRejected, OrderModifyRejected)


def order_topic(strategy_id: str) -> str:
    return f"events.order.{strategy_id}"


class ExecutionEngine:
    def __init__(self, bus: MessageBus, cache: Cache, portfolio: Portfolio) -> None:
        self.bus = bus
        self.cache = cache
        self.portfolio = portfolio
        self.venues: dict[str, VenueClient] = {}
        self.pending: deque[OrderEvent | AccountState] = deque()
        self.fills: list[OrderFilled] = []
        self._topics: dict[str, str] = {}
        self._venue_of: dict[str, VenueClient] = {}

    def register_venue(self, venue: VenueClient) -> None:
        self.venues[venue.name] = venue
        venue.set_event_handler(self.pending.append)

    # -- commands -------------------------------------------------------------------------------
    def submit(self, orders: Sequence[Order]) -> None:
        """Send one order or a contingent list (all members go to the same venue together)."""
        now = self.cache.now()
        venue = self._venue_for(orders[0])
        for order in orders:
            self.cache.add_order(order)
            self._apply(
                order,
                OrderSubmitted(
                    client_order_id=order.client_order_id,
                    strategy_id=order.strategy_id,
                    instrument_id=order.instrument_id,
                    ts_event=now,
                    ts_init=now,
                ),
            )
        venue.submit_list(orders)

    def cancel(self, order: Order) -> None:
        if not can_apply(order.status, OrderPendingCancel):
            return  # already done or already being canceled: nothing to do, never an error
        self._apply(order, OrderPendingCancel(**order.event_ids(self.cache.now())))
        self._venue_for(order).cancel(order)

    def modify(
        self,
        order: Order,
        quantity: float | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
    ) -> None:
        if not can_apply(order.status, OrderPendingUpdate):
            # the order is done or a request is already in flight: say so, change nothing
            reason = f"order is {order.status.value}: modify not sent"
            self._publish(
                order, OrderModifyRejected(**order.event_ids(self.cache.now()), reason=reason)
            )
            return
        self._apply(order, OrderPendingUpdate(**order.event_ids(self.cache.now())))
        self._venue_for(order).modify(order, quantity, price, trigger_price)

    def deny(self, orders: Sequence[Order], reason: str, message: str) -> list[OrderDenied]:
        """Record orders refused before any venue saw them; their owner hears it as a venue
        answer, after its callback returns (the events are queued, not dispatched here)."""
        now = self.cache.now()
        events = []
        for order in orders:
            self.cache.add_order(order)
            event = OrderDenied(**order.event_ids(now), reason=reason, message=message)
            self.pending.append(event)
            events.append(event)
        return events

    def reject_modify(self, order: Order, reason: str, message: str) -> None:
        """Refuse a modify before any venue saw it (queued like a venue's rejection)."""
        self.pending.append(
            OrderModifyRejected(**order.event_ids(self.cache.now()), reason=reason, message=message)
        )

    def _venue_for(self, order: Order) -> VenueClient:
        venue = self._venue_of.get(order.instrument_id)
        if venue is not None:
            return venue
        venue_name = order.instrument_id.rpartition("@")[2]
        try:
            venue = self._venue_of[order.instrument_id] = self.venues[venue_name]
            return venue
        except KeyError:
            raise InstrumentError(
                f"order {order.client_order_id}: no venue {venue_name!r} for "
                f"{order.instrument_id} (venues: {', '.join(sorted(self.venues)) or 'none'})"
            ) from None

    # -- events ---------------------------------------------------------------------------------
    def process_events(self) -> None:
        """Apply queued venue events in arrival order, including those their handlers cause."""
        pending = self.pending
        while pending:
            event = pending.popleft()
            if isinstance(event, AccountState):
                self.portfolio.on_account_state(event)
                continue
            order = self.cache.order(event.client_order_id)
            if order is None:
                if type(event) is OrderFilled:
                    self._adopt_fill(event)
                continue  # other news of orders not ours: reconciliation's business
            self._apply(order, event)

    def _adopt_fill(self, fill: OrderFilled) -> None:
        """A fill of an order no strategy sent (made by hand, another program): it moved the
        account, so it is booked, to the unattributed bucket."""
        owned = msgspec.structs.replace(fill, strategy_id=UNATTRIBUTED)
        self.fills.append(owned)
        self.portfolio.on_fill(owned, None)
        self.bus.publish(order_topic(UNATTRIBUTED), owned)

    def _apply(self, order: Order, event: OrderEvent) -> None:
        if not (order.is_closed and isinstance(event, _REQUEST_REJECTIONS)):
            # a cancel/modify that lost the race against a fill is news for the strategy only:
            # the order's life is over and its state machine accepts nothing more
            order.apply(event)
            self.cache.order_updated(order)
        if type(event) is OrderFilled:
            self.fills.append(event)
            self.portfolio.on_fill(event, order)
        self._publish(order, event)

    def _publish(self, order: Order, event: OrderEvent) -> None:
        topic = self._topics.get(order.strategy_id)
        if topic is None:
            topic = self._topics[order.strategy_id] = order_topic(order.strategy_id)
        self.bus.publish(topic, event)
