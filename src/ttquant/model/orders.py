"""Orders and their state machine.

An order moves only along the transitions in ``_TRANSITIONS``; anything else raises
:class:`OrderStateError`, so a venue or adapter bug surfaces at once instead of corrupting
positions. The table follows the life of an order at a real venue: a fill may arrive before the
accept message, a cancel may race a fill, a rejected modify or cancel returns the order to the
state it was in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ttquant.core.errors import OrderStateError
from ttquant.model.enums import (
    ContingencyType,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
    TrailingOffsetType,
)
from ttquant.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)

S = OrderStatus
_FILL = "fill"  # target decided by the filled quantity: PARTIALLY_FILLED or FILLED
_RESTORE = "restore"  # target is the status before the pending update/cancel

_Target = OrderStatus | str

_TRANSITIONS: dict[tuple[OrderStatus, type[OrderEvent]], _Target] = {
    (S.INITIALIZED, OrderDenied): S.DENIED,
    (S.INITIALIZED, OrderSubmitted): S.SUBMITTED,
    (S.INITIALIZED, OrderRejected): S.REJECTED,
    (S.INITIALIZED, OrderCanceled): S.CANCELED,  # a held contingent child canceled before release
    (S.INITIALIZED, OrderUpdated): S.INITIALIZED,  # a held child resized before release
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    (S.SUBMITTED, OrderCanceled): S.CANCELED,
    (S.SUBMITTED, OrderExpired): S.EXPIRED,
    (S.SUBMITTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.SUBMITTED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.SUBMITTED, OrderFilled): _FILL,
    (S.ACCEPTED, OrderRejected): S.REJECTED,
    (S.ACCEPTED, OrderTriggered): S.TRIGGERED,
    (S.ACCEPTED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.ACCEPTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.ACCEPTED, OrderUpdated): S.ACCEPTED,
    (S.ACCEPTED, OrderCanceled): S.CANCELED,
    (S.ACCEPTED, OrderExpired): S.EXPIRED,
    (S.ACCEPTED, OrderFilled): _FILL,
    (S.TRIGGERED, OrderRejected): S.REJECTED,
    (S.TRIGGERED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.TRIGGERED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.TRIGGERED, OrderUpdated): S.TRIGGERED,
    (S.TRIGGERED, OrderCanceled): S.CANCELED,
    (S.TRIGGERED, OrderExpired): S.EXPIRED,
    (S.TRIGGERED, OrderFilled): _FILL,
    (S.PENDING_UPDATE, OrderUpdated): _RESTORE,
    (S.PENDING_UPDATE, OrderModifyRejected): _RESTORE,
    (S.PENDING_UPDATE, OrderAccepted): S.ACCEPTED,
    (S.PENDING_UPDATE, OrderTriggered): S.TRIGGERED,
    (S.PENDING_UPDATE, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PENDING_UPDATE, OrderCanceled): S.CANCELED,
    (S.PENDING_UPDATE, OrderExpired): S.EXPIRED,
    (S.PENDING_UPDATE, OrderRejected): S.REJECTED,
    (S.PENDING_UPDATE, OrderFilled): _FILL,
    (S.PENDING_CANCEL, OrderCancelRejected): _RESTORE,
    (S.PENDING_CANCEL, OrderUpdated): S.PENDING_CANCEL,  # a modify sent before the cancel
    (S.PENDING_CANCEL, OrderModifyRejected): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderRejected): S.REJECTED,
    (S.PENDING_CANCEL, OrderCanceled): S.CANCELED,
    (S.PENDING_CANCEL, OrderExpired): S.EXPIRED,
    (S.PENDING_CANCEL, OrderAccepted): S.ACCEPTED,
    (S.PENDING_CANCEL, OrderFilled): _FILL,
    (S.PARTIALLY_FILLED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.PARTIALLY_FILLED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, OrderUpdated): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderFilled): _FILL,
}
# A modify or cancel rejection that arrives after a fill already ended the pending state is news
# about a request, not about the order: the order stays where it is.
for _status in (S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED):
    _TRANSITIONS[(_status, OrderModifyRejected)] = _status
    _TRANSITIONS[(_status, OrderCancelRejected)] = _status
# So is a modify the risk engine refused before sending it, also while the order is in flight.
_TRANSITIONS[(S.SUBMITTED, OrderModifyRejected)] = S.SUBMITTED

TERMINAL_STATUSES = frozenset({S.DENIED, S.REJECTED, S.FILLED, S.CANCELED, S.EXPIRED})
_OPEN_STATUSES = frozenset(
    {S.ACCEPTED, S.TRIGGERED, S.PENDING_UPDATE, S.PENDING_CANCEL, S.PARTIALLY_FILLED}
)
_QTY_EPS = 1e-12


def can_apply(status: OrderStatus, event_type: type[OrderEvent]) -> bool:
    return (status, event_type) in _TRANSITIONS


class Order:
    """A request to trade plus everything that has happened to it since.

    ``price`` is the limit price (LIMIT, STOP_LIMIT); ``trigger_price`` the stop price (STOP_*,
    and the current stop of a TRAILING_STOP). ``tags`` holds free-form labels; ``exit_reason``
    names why an exit order was placed (``signal``, ``stop_loss``, ``take_profit``, ...), and ends
    up in the trade list.
    """

    __slots__ = (
        "_previous_status",
        "avg_px",
        "client_order_id",
        "contingency",
        "events",
        "exit_reason",
        "expire_ns",
        "filled_qty",
        "instrument_id",
        "linked_order_ids",
        "order_list_id",
        "order_type",
        "parent_order_id",
        "post_only",
        "price",
        "quantity",
        "reduce_only",
        "side",
        "status",
        "strategy_id",
        "tags",
        "time_in_force",
        "trailing_offset",
        "trailing_offset_type",
        "trigger_price",
        "ts_init",
        "ts_last",
        "venue_order_id",
    )

    def __init__(
        self,
        *,
        client_order_id: str,
        strategy_id: str,
        instrument_id: str,
        side: OrderSide,
        order_type: OrderType,
        quantity: float,
        price: float | None = None,
        trigger_price: float | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_ns: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        trailing_offset: float | None = None,
        trailing_offset_type: TrailingOffsetType = TrailingOffsetType.PRICE,
        exit_reason: str = "",
        tags: tuple[str, ...] = (),
        ts_init: int = 0,
    ) -> None:
        self.client_order_id = client_order_id
        self.strategy_id = strategy_id
        self.instrument_id = instrument_id
        self.side = side
        self.order_type = order_type
        self.quantity = quantity
        self.price = price
        self.trigger_price = trigger_price
        self.time_in_force = time_in_force
        self.expire_ns = expire_ns
        self.post_only = post_only
        self.reduce_only = reduce_only
        self.trailing_offset = trailing_offset
        self.trailing_offset_type = trailing_offset_type
        self.exit_reason = exit_reason
        self.tags = tags
        self.ts_init = ts_init
        self.ts_last = ts_init
        self.status = OrderStatus.INITIALIZED
        self._previous_status = OrderStatus.INITIALIZED
        self.filled_qty = 0.0
        self.avg_px = math.nan
        self.venue_order_id = ""
        self.contingency = ContingencyType.NONE
        self.order_list_id = ""
        self.parent_order_id = ""
        self.linked_order_ids: Sequence[str] = ()  # set by contingent lists (OCO, bracket)
        self.events: list[OrderEvent] = []

    def __repr__(self) -> str:
        px = f" @ {self.price}" if self.price is not None else ""
        trig = f" trigger {self.trigger_price}" if self.trigger_price is not None else ""
        return (
            f"Order({self.client_order_id} {self.side.value} {self.quantity} {self.instrument_id} "
            f"{self.order_type.value}{px}{trig} {self.time_in_force.value} {self.status.value})"
        )

    def event_ids(
        self, ts_event: int, venue_order_id: str = "", ts_init: int | None = None
    ) -> dict[str, Any]:
        """The identifying fields every event about this order carries (as keyword arguments)."""
        return {
            "client_order_id": self.client_order_id,
            "strategy_id": self.strategy_id,
            "instrument_id": self.instrument_id,
            "ts_event": ts_event,
            "ts_init": ts_event if ts_init is None else ts_init,
            "venue_order_id": venue_order_id or self.venue_order_id,
        }

    @property
    def leaves_qty(self) -> float:
        return max(self.quantity - self.filled_qty, 0.0)

    @property
    def is_open(self) -> bool:
        """Working at a venue: accepted and neither filled nor done."""
        return self.status in _OPEN_STATUSES

    @property
    def is_closed(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_inflight(self) -> bool:
        """Sent but not yet acknowledged, or a modify/cancel awaiting its answer."""
        return self.status in (S.SUBMITTED, S.PENDING_UPDATE, S.PENDING_CANCEL)

    @property
    def is_stop(self) -> bool:
        return self.order_type in (
            OrderType.STOP_MARKET,
            OrderType.STOP_LIMIT,
            OrderType.TRAILING_STOP,
        )

    def apply(self, event: OrderEvent) -> None:
        """Move to the state ``event`` implies, or raise :class:`OrderStateError`."""
        kind = type(event)
        target = _TRANSITIONS.get((self.status, kind))
        if target is None:
            raise OrderStateError(
                f"order {self.client_order_id}: illegal transition from {self.status.value} "
                f"on {kind.__name__}"
            )
        if kind is OrderFilled:
            assert isinstance(event, OrderFilled)
            self._apply_fill(event)
            target = (
                S.FILLED
                if self.leaves_qty <= _QTY_EPS * max(1.0, self.quantity)
                else (S.PARTIALLY_FILLED)
            )
        elif kind is OrderUpdated:
            assert isinstance(event, OrderUpdated)
            self.quantity = event.quantity
            if event.price is not None:
                self.price = event.price
            if event.trigger_price is not None:
                self.trigger_price = event.trigger_price
        if event.venue_order_id:
            self.venue_order_id = event.venue_order_id
        if target == _RESTORE:
            target = self._previous_status
            if self.filled_qty > 0.0 and target in (S.ACCEPTED, S.TRIGGERED):
                target = S.PARTIALLY_FILLED
        if (target is S.PENDING_UPDATE or target is S.PENDING_CANCEL) and self.status not in (
            S.PENDING_UPDATE,
            S.PENDING_CANCEL,
        ):
            self._previous_status = self.status  # where a rejected request returns the order
        self.status = target  # type: ignore[assignment]  # _FILL/_RESTORE resolved above
        self.ts_last = event.ts_event
        self.events.append(event)

    def _apply_fill(self, fill: OrderFilled) -> None:
        if fill.last_qty > self.leaves_qty * (1 + 1e-9) + _QTY_EPS:
            raise OrderStateError(
                f"order {self.client_order_id}: fill of {fill.last_qty} exceeds the "
                f"{self.leaves_qty} left to fill"
            )
        total = self.filled_qty + fill.last_qty
        prior = 0.0 if self.filled_qty == 0.0 else self.avg_px * self.filled_qty
        self.avg_px = (prior + fill.last_px * fill.last_qty) / total
        self.filled_qty = total
