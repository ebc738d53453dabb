"""Order events: what happened to an order, reported by the risk engine or a venue.

Each event names the order by its client order id (ours, assigned before sending) and, once
known, the venue's order id. ``OrderFilled`` doubles as the fill record that the portfolio, the
store and reports consume. Events hold only scalars, so the garbage collector need not track
them (``gc=False``).
"""

from __future__ import annotations

import msgspec

from ttquant.model.enums import LiquiditySide, OrderSide


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    client_order_id: str
    strategy_id: str
    instrument_id: str
    ts_event: int
    ts_init: int
    venue_order_id: str = ""


class OrderDenied(OrderEvent, frozen=True, kw_only=True):
    """Refused before reaching a venue (pre-trade risk); ``reason`` is a code, ``message`` prose."""

    reason: str
    message: str = ""


class OrderSubmitted(OrderEvent, frozen=True, kw_only=True):
    pass


class OrderAccepted(OrderEvent, frozen=True, kw_only=True):
    pass


class OrderRejected(OrderEvent, frozen=True, kw_only=True):
    reason: str
    message: str = ""


class OrderTriggered(OrderEvent, frozen=True, kw_only=True):
    """A stop or trailing-stop order's trigger price was reached."""


class OrderPendingUpdate(OrderEvent, frozen=True, kw_only=True):
    pass


class OrderPendingCancel(OrderEvent, frozen=True, kw_only=True):
    pass


class OrderUpdated(OrderEvent, frozen=True, kw_only=True):
    quantity: float
    price: float | None = None
    trigger_price: float | None = None


class OrderModifyRejected(OrderEvent, frozen=True, kw_only=True):
    reason: str
    message: str = ""


class OrderCancelRejected(OrderEvent, frozen=True, kw_only=True):
    reason: str


class OrderCanceled(OrderEvent, frozen=True, kw_only=True):
    pass


class OrderExpired(OrderEvent, frozen=True, kw_only=True):
    pass


class OrderFilled(OrderEvent, frozen=True, kw_only=True):
    trade_id: str
    side: OrderSide
    last_qty: float
    last_px: float
    commission: float
    commission_currency: str
    liquidity_side: LiquiditySide
