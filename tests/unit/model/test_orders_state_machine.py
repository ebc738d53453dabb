"""The order state machine: table tests and a random-sequence property test.

The reference below is written from the order life cycle (a venue acknowledges, works, fills,
cancels or expires an order; modify/cancel requests may be pending and may be refused), not
copied from the implementation's table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttquant.core.errors import OrderStateError
from ttquant.model.enums import LiquiditySide, OrderSide, OrderStatus, OrderType
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
from ttquant.model.orders import Order

S = OrderStatus
TERMINAL = {S.DENIED, S.REJECTED, S.FILLED, S.CANCELED, S.EXPIRED}
WORKING = {S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED}
DONE_BY_VENUE = {S.CANCELED, S.EXPIRED, S.FILLED, S.PARTIALLY_FILLED}
# from each status, the statuses one event may lead to (itself included where an event keeps it)
REACHABLE: dict[OrderStatus, set[OrderStatus]] = {
    S.INITIALIZED: {S.INITIALIZED, S.DENIED, S.SUBMITTED, S.REJECTED, S.CANCELED},
    # ... or stays, when the risk engine refused a modify before sending it
    S.SUBMITTED: {S.SUBMITTED, S.ACCEPTED, S.REJECTED, S.PENDING_CANCEL, S.PENDING_UPDATE}
    | DONE_BY_VENUE,
    S.ACCEPTED: {S.ACCEPTED, S.TRIGGERED, S.REJECTED, S.PENDING_CANCEL, S.PENDING_UPDATE}
    | DONE_BY_VENUE,
    S.TRIGGERED: {S.TRIGGERED, S.REJECTED, S.PENDING_CANCEL, S.PENDING_UPDATE} | DONE_BY_VENUE,
    # a pending request resolves back to where the order was, or the order moves on
    S.PENDING_UPDATE: {S.SUBMITTED, S.PENDING_CANCEL, S.REJECTED} | WORKING | DONE_BY_VENUE,
    # ... or, for a cancel, also learns of a modify sent before it (it stays pending cancel)
    S.PENDING_CANCEL: {S.PENDING_CANCEL, S.SUBMITTED, S.PENDING_UPDATE, S.REJECTED}
    | WORKING
    | DONE_BY_VENUE,
    S.PARTIALLY_FILLED: {
        S.PARTIALLY_FILLED,
        S.PENDING_CANCEL,
        S.PENDING_UPDATE,
        S.CANCELED,
        S.EXPIRED,
        S.FILLED,
    },
    **{t: set() for t in TERMINAL},
}

QTY = 10.0


def _order() -> Order:
    return Order(
        client_order_id="O-1",
        strategy_id="s",
        instrument_id="BTC/USDT@SIM",
        side=OrderSide.BUY,
        order_type=OrderType.STOP_LIMIT,
        quantity=QTY,
        price=101.0,
        trigger_price=100.0,
    )


_IDS: dict[str, Any] = {
    "client_order_id": "O-1",
    "strategy_id": "s",
    "instrument_id": "BTC/USDT@SIM",
    "ts_event": 1,
    "ts_init": 1,
}


def _fill(qty: float, px: float = 100.0) -> OrderFilled:
    return OrderFilled(
        **_IDS,
        trade_id="T",
        side=OrderSide.BUY,
        last_qty=qty,
        last_px=px,
        commission=0.0,
        commission_currency="USDT",
        liquidity_side=LiquiditySide.TAKER,
    )


MAKERS: dict[str, Callable[[], OrderEvent]] = {
    "denied": lambda: OrderDenied(**_IDS, reason="risk"),
    "submitted": lambda: OrderSubmitted(**_IDS),
    "accepted": lambda: OrderAccepted(**_IDS, venue_order_id="V-1"),
    "rejected": lambda: OrderRejected(**_IDS, reason="X"),
    "triggered": lambda: OrderTriggered(**_IDS),
    "pending_update": lambda: OrderPendingUpdate(**_IDS),
    "pending_cancel": lambda: OrderPendingCancel(**_IDS),
    "updated": lambda: OrderUpdated(**_IDS, quantity=QTY, price=102.0),
    "modify_rejected": lambda: OrderModifyRejected(**_IDS, reason="X"),
    "cancel_rejected": lambda: OrderCancelRejected(**_IDS, reason="X"),
    "canceled": lambda: OrderCanceled(**_IDS),
    "expired": lambda: OrderExpired(**_IDS),
    "fill_part": lambda: _fill(4.0),
}


def _drive(*names: str) -> Order:
    order = _order()
    for name in names:
        order.apply(_fill(QTY - order.filled_qty) if name == "fill_rest" else MAKERS[name]())
    return order


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("submitted",), S.SUBMITTED),
        (("denied",), S.DENIED),
        (("submitted", "accepted"), S.ACCEPTED),
        (("submitted", "rejected"), S.REJECTED),
        (("submitted", "fill_part"), S.PARTIALLY_FILLED),  # fill before the accept message
        (("submitted", "accepted", "triggered"), S.TRIGGERED),
        (("submitted", "accepted", "fill_part", "fill_rest"), S.FILLED),
        (("submitted", "accepted", "pending_update", "updated"), S.ACCEPTED),
        (("submitted", "accepted", "triggered", "pending_update", "modify_rejected"), S.TRIGGERED),
        (("submitted", "accepted", "pending_cancel", "cancel_rejected"), S.ACCEPTED),
        (("submitted", "accepted", "pending_cancel", "canceled"), S.CANCELED),
        (
            ("submitted", "accepted", "fill_part", "pending_cancel", "cancel_rejected"),
            S.PARTIALLY_FILLED,
        ),
        (("submitted", "accepted", "pending_cancel", "fill_part"), S.PARTIALLY_FILLED),
        (("submitted", "accepted", "pending_cancel", "fill_part", "canceled"), S.CANCELED),
        (("submitted", "accepted", "pending_update", "fill_part", "updated"), S.PARTIALLY_FILLED),
        (("submitted", "accepted", "expired"), S.EXPIRED),
        (("submitted", "accepted", "fill_part", "expired"), S.EXPIRED),
        (("submitted", "modify_rejected"), S.SUBMITTED),  # refused by risk before sending
    ],
)
def test_legal_paths(path: tuple[str, ...], expected: OrderStatus) -> None:
    order = _drive(*path)
    assert order.status is expected
    assert len(order.events) == len(path)


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), "accepted"),  # never sent
        ((), "fill_part"),
        (("submitted",), "triggered"),  # not yet working
        (("submitted", "accepted", "fill_part"), "triggered"),
        (("submitted", "accepted", "fill_part"), "rejected"),  # partly filled: no longer rejectable
        (("submitted", "accepted"), "submitted"),
        (("denied",), "submitted"),
        (("submitted", "rejected"), "accepted"),
        (("submitted", "accepted", "canceled"), "fill_part"),
        (("submitted", "accepted", "fill_part", "fill_rest"), "canceled"),
        (("submitted", "accepted", "expired"), "cancel_rejected"),
        (("submitted",), "cancel_rejected"),  # no cancel was pending
    ],
)
def test_illegal_transitions_raise_and_leave_the_order_unchanged(
    path: tuple[str, ...], illegal: str
) -> None:
    order = _drive(*path)
    before = (order.status, order.filled_qty, len(order.events))
    with pytest.raises(OrderStateError, match="illegal transition"):
        order.apply(MAKERS[illegal]())
    assert (order.status, order.filled_qty, len(order.events)) == before


def test_a_fill_beyond_the_quantity_raises() -> None:
    order = _drive("submitted", "accepted", "fill_part")
    with pytest.raises(OrderStateError, match="exceeds"):
        order.apply(_fill(6.5))
    assert order.filled_qty == 4.0


_EVENT_NAMES = [*MAKERS, "fill_rest", "fill_big"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_EVENT_NAMES), st.sampled_from([1.0, 2.5, 4.0]), st.floats(50.0, 150.0)
        ),
        max_size=14,
    )
)
def test_random_event_sequences_stay_inside_the_table(
    steps: list[tuple[str, float, float]],
) -> None:
    order = _order()
    fills: list[tuple[float, float]] = []
    for name, qty, px in steps:
        if name == "fill_part":
            event: OrderEvent = _fill(qty, px)
        elif name == "fill_rest":
            event = _fill(max(QTY - order.filled_qty, 1e-6), px)
        elif name == "fill_big":
            event = _fill(QTY + qty, px)
        else:
            event = MAKERS[name]()
        before = order.status
        filled_before = order.filled_qty
        try:
            order.apply(event)
        except OrderStateError:
            assert order.status is before
            assert order.filled_qty == filled_before
            continue
        assert before not in TERMINAL, f"terminal {before} accepted {name}"
        assert order.status in REACHABLE[before], f"{before} -> {order.status} on {name}"
        if isinstance(event, OrderFilled):
            fills.append((event.last_qty, event.last_px))
        assert order.filled_qty <= order.quantity * (1 + 1e-9)
        if fills:
            total = sum(q for q, _ in fills)
            assert order.filled_qty == pytest.approx(total, rel=1e-12)
            assert order.avg_px == pytest.approx(sum(q * p for q, p in fills) / total, rel=1e-12)
        else:
            assert math.isnan(order.avg_px)
        assert (order.status is S.FILLED) == (order.leaves_qty <= 1e-9)


def test_modify_then_cancel_in_one_callback() -> None:
    """A modify answered after the cancel was sent keeps the order pending cancel."""
    order = _drive("submitted", "accepted", "pending_update", "pending_cancel", "updated")
    assert order.status is S.PENDING_CANCEL and order.price == 102.0
    order.apply(MAKERS["canceled"]())
    assert order.status is S.CANCELED


def test_rejected_cancel_after_modify_returns_to_the_working_state() -> None:
    order = _drive("submitted", "accepted", "pending_update", "pending_cancel", "cancel_rejected")
    assert order.status is S.ACCEPTED  # not PENDING_UPDATE: the first request's origin is kept
