"""What recreates an order, for every message that carries one across a boundary.

An order crosses to the gateway process (:mod:`ttquant.engine.ipc`) and into the crash journal
(:mod:`ttquant.engine.journal`); both must carry the same fields, so they are listed once here.
"""

from __future__ import annotations

from typing import Any

from ttquant.model.orders import Order

ORDER_SPEC_FIELDS = (
    "client_order_id",
    "strategy_id",
    "instrument_id",
    "side",
    "order_type",
    "quantity",
    "price",
    "trigger_price",
    "time_in_force",
    "expire_ns",
    "post_only",
    "reduce_only",
    "exit_reason",
    "tags",
    "ts_init",
    "trailing_offset",
    "trailing_offset_type",
)


def order_spec(order: Order) -> dict[str, Any]:
    """The order's spec as keyword arguments of a message (tags as a tuple, so it serializes)."""
    spec = {name: getattr(order, name) for name in ORDER_SPEC_FIELDS}
    spec["tags"] = tuple(order.tags)
    return spec


def rebuild_order(message: object) -> Order:
    """A fresh (INITIALIZED) order with the spec ``message`` carries."""
    return Order(**{name: getattr(message, name) for name in ORDER_SPEC_FIELDS})
