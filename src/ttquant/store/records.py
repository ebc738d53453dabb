"""Kernel objects as store rows, and back.

A row is a tuple in the order of :func:`ttquant.store.schema.row_columns`, holding values the
database drivers take as they are: JSON columns hold JSON text made by :func:`json_text` (a dict
or list is accepted too and encoded by the store), enums their values, booleans 0 or 1,
timestamps int nanoseconds. sqlite3 binds exact ints, floats and strs several times faster than
anything it has to adapt (bool, an enum member, even None), which a saved backtest with hundreds
of thousands of rows feels. Tuples rather than dicts keep a live node's cost per recorded event to
about a microsecond. Events and fills read back from the store compare equal to the kernel's own,
field for field.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
from msgspec.structs import astuple

from ttquant.model import events as events_module
from ttquant.model.enums import LiquiditySide, OrderSide
from ttquant.model.events import OrderEvent, OrderFilled
from ttquant.model.instruments import Instrument, split_instrument_id
from ttquant.model.orders import Order
from ttquant.model.position import Position

Row = tuple[Any, ...]

_COMMON_FIELDS = OrderEvent.__struct_fields__
_COMMON_COUNT = len(_COMMON_FIELDS)
EVENT_TYPES: dict[str, type[OrderEvent]] = {
    name: cls
    for name, cls in vars(events_module).items()
    if isinstance(cls, type) and issubclass(cls, OrderEvent) and cls is not OrderEvent
}
_EMPTY_OBJECT = "{}"
_EMPTY_LIST = "[]"
_encode = msgspec.json.encode


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as the strings ``inf``, ``-inf``, ``nan``.

    JSON has no infinity (PostgreSQL refuses it); msgspec's lax conversion reads the strings back
    as floats, so an Instrument with ``max_quantity=inf`` survives the round trip.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def json_text(value: Any) -> str:
    """``value`` (anything msgspec encodes) as JSON, non-finite floats spelled out.

    msgspec writes None and non-finite floats alike as ``null``, so only text holding a ``null``
    takes the slower :func:`json_safe` pass: almost no record does.
    """
    text = _encode(value)
    if b"null" in text:
        text = _encode(json_safe(msgspec.to_builtins(value)))
    return text.decode()


def stored_json(value: Any) -> str:
    """What a JSON column stores for a row's value: JSON text as it is, anything else encoded."""
    return value if type(value) is str else json_text(value)


@functools.cache
def _venue(instrument_id: str) -> str:
    return split_instrument_id(instrument_id)[1]


def instrument_row(instrument: Instrument, updated_ns: int) -> Row:
    return (
        instrument.id,
        instrument.symbol,
        instrument.venue,
        instrument.kind.value,
        instrument.base,
        instrument.quote,
        instrument.settle,
        instrument.price_increment,
        instrument.size_increment,
        instrument.multiplier,
        1 if instrument.is_inverse else 0,
        json_text(instrument),
        updated_ns,
    )


def instrument_from_spec(spec: Mapping[str, Any]) -> Instrument:
    return msgspec.convert(spec, type=Instrument, strict=False)


_ORDER_FIELDS = attrgetter(
    "client_order_id",
    "ts_init",
    "venue_order_id",
    "strategy_id",
    "instrument_id",
    "side",
    "order_type",
    "quantity",
    "price",
    "trigger_price",
    "time_in_force",
    "status",
    "filled_qty",
    "avg_px",
    "ts_last",
    "reduce_only",
    "post_only",
    "contingency",
    "order_list_id",
    "parent_order_id",
    "exit_reason",
    "tags",
)


def order_row(run_id: str, order: Order) -> Row:
    """The order's current state (``avg_px`` NULL until its first fill)."""
    (cid, ts_init, vid, sid, iid, side, kind, qty, px, trigger, tif, status, filled, avg_px,
     ts_last, reduce_only, post_only, contingency, list_id, parent_id, exit_reason, tags) = (
        _ORDER_FIELDS(order)
    )  # fmt: skip
    # enum members are str subclasses, which drivers adapt slowly: store their plain values
    return (
        run_id,
        cid,
        ts_init,
        vid,
        sid,
        iid,
        side._value_,
        kind._value_,
        qty,
        px,
        trigger,
        tif._value_,
        status._value_,
        filled,
        None if math.isnan(avg_px) else avg_px,
        ts_last,
        1 if reduce_only else 0,  # bool is an int subclass, adapted slowly too
        1 if post_only else 0,
        contingency._value_,
        list_id,
        parent_id,
        exit_reason,
        json_text(list(tags)) if tags else _EMPTY_LIST,
    )


_PAYLOAD_TYPES: dict[type[OrderEvent], type[msgspec.Struct] | None] = {}


def _payload_type(cls: type[OrderEvent]) -> type[msgspec.Struct] | None:
    """A struct of the fields ``cls`` adds to :class:`OrderEvent`: its row's payload.

    A subclass's own fields follow the inherited ones (msgspec's order, checked by a test), so
    they are the tail of the event as a tuple; None for an event type with no fields of its own.
    """
    try:
        return _PAYLOAD_TYPES[cls]
    except KeyError:
        names = cls.__struct_fields__[_COMMON_COUNT:]
        own = _PAYLOAD_TYPES[cls] = (
            msgspec.defstruct(f"{cls.__name__}Payload", names) if names else None
        )
        return own


def order_event_row(run_id: str, seq: int, event: OrderEvent) -> Row:
    values = astuple(event)  # OrderEvent's fields first, in their order (tested)
    cls = type(event)
    payload = _payload_type(cls)
    text = _EMPTY_OBJECT if payload is None else json_text(payload(*values[_COMMON_COUNT:]))
    cid, sid, iid, ts_event, ts_init, vid = values[:_COMMON_COUNT]
    return (run_id, cid, seq, ts_event, ts_init, cls.__name__, vid, sid, iid, text)


def order_event_rows(run_id: str, orders: Iterable[Order]) -> list[Row]:
    """Every event of every order, numbered per order in the order the kernel applied them."""
    return [
        order_event_row(run_id, seq, event)
        for order in orders
        for seq, event in enumerate(order.events)
    ]


def order_event_from_row(row: Mapping[Any, Any]) -> OrderEvent:
    """The event a row of ``order_events`` was made from."""
    cls = EVENT_TYPES[row["event_type"]]
    common = {name: row[name] for name in _COMMON_FIELDS}
    return msgspec.convert({**common, **row["payload"]}, type=cls, strict=False)


_FILL_FIELDS = attrgetter(
    "trade_id",
    "ts_event",
    "ts_init",
    "client_order_id",
    "venue_order_id",
    "strategy_id",
    "instrument_id",
    "side",
    "last_qty",
    "last_px",
    "commission",
    "commission_currency",
    "liquidity_side",
)


def fill_row(run_id: str, fill: OrderFilled) -> Row:
    (trade_id, ts_event, ts_init, cid, vid, sid, iid, side, qty, px, commission, currency,
     liquidity) = _FILL_FIELDS(fill)  # fmt: skip
    return (
        run_id,
        trade_id,
        ts_event,
        ts_init,
        cid,
        vid,
        sid,
        iid,
        _venue(iid),
        side._value_,
        qty,
        px,
        commission,
        currency,
        liquidity._value_,
    )


def fill_from_row(row: Mapping[Any, Any]) -> OrderFilled:
    return OrderFilled(
        client_order_id=row["client_order_id"],
        strategy_id=row["strategy_id"],
        instrument_id=row["instrument_id"],
        ts_event=row["ts_event"],
        ts_init=row["ts_init"],
        venue_order_id=row["venue_order_id"],
        trade_id=row["trade_id"],
        side=OrderSide(row["side"]),
        last_qty=row["qty"],
        last_px=row["price"],
        commission=row["commission"],
        commission_currency=row["commission_currency"],
        liquidity_side=LiquiditySide(row["liquidity_side"]),
    )


def equity_rows(run_id: str, ts: np.ndarray, equity: np.ndarray) -> list[Row]:
    return [(run_id, t, e) for t, e in zip(ts.tolist(), equity.tolist(), strict=True)]


def position_snapshot_rows(
    run_id: str, fills: Iterable[OrderFilled], instruments: Mapping[str, Instrument]
) -> list[Row]:
    """The position of each (strategy, instrument) after every fill, replayed from the fills.

    A backtest keeps only final positions; replaying its fills through the kernel's own
    :class:`Position` gives the history a live node records as it goes.
    """
    positions: dict[tuple[str, str], Position] = {}
    rows: list[Row] = []
    for fill in fills:
        key = (fill.strategy_id, fill.instrument_id)
        position = positions.get(key)
        if position is None:
            position = positions[key] = Position(instruments[fill.instrument_id], fill.strategy_id)
        position.apply_fill(fill)
        rows.append(
            (
                run_id,
                fill.strategy_id,
                fill.instrument_id,
                fill.ts_event,
                position.quantity,
                position.avg_px,
                position.realized_pnl,
                position.commissions,
            )
        )
    return rows
