"""Kernel objects survive the trip through rows and a real database field for field."""

from __future__ import annotations

import enum
import json
import math
import typing

import msgspec
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from ttquant.engine.runner import BacktestResult
from ttquant.model.enums import InstrumentKind, LiquiditySide, OrderSide
from ttquant.model.events import OrderEvent, OrderFilled
from ttquant.model.instruments import Instrument
from ttquant.store import TradingStore, records
from ttquant.store.runs import RunRepository
from ttquant.store.schema import TABLES, row_columns

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
text = st.text(min_size=1, max_size=20)

fills = st.builds(
    OrderFilled,
    client_order_id=text,
    strategy_id=text,
    instrument_id=st.builds(lambda s, v: f"{s}@{v}", text.filter(lambda s: "@" not in s), text),
    ts_event=st.integers(0, 2**62),
    ts_init=st.integers(0, 2**62),
    venue_order_id=st.text(max_size=20),
    trade_id=text,
    side=st.sampled_from(OrderSide),
    last_qty=finite,
    last_px=finite,
    commission=finite,
    commission_currency=text,
    liquidity_side=st.sampled_from(LiquiditySide),
)


@given(fills)
def test_fill_rows_read_back_as_the_same_fill(fill: OrderFilled) -> None:
    names = [c.name for c in row_columns(TABLES["fills"])]
    row = dict(zip(names, records.fill_row("run", fill), strict=True))
    back = records.fill_from_row(row)
    assert back == fill
    assert back.side is fill.side and back.liquidity_side is fill.liquidity_side


def test_every_row_builder_matches_its_table(demo_results: tuple[BacktestResult, ...]) -> None:
    result = demo_results[0]
    order = result.orders[0]
    built = {
        "instruments": records.instrument_row(next(iter(result.instruments.values())), 1),
        "orders": records.order_row("r", order),
        "order_events": records.order_event_rows("r", [order])[0],
        "fills": records.fill_row("r", result.fills[0]),
        "equity": records.equity_rows("r", result.curve.ts[:1], result.curve.equity[:1])[0],
        "position_snapshots": records.position_snapshot_rows(
            "r", result.fills[:1], result.instruments
        )[0],
    }
    for name, row in built.items():
        assert len(row) == len(row_columns(TABLES[name])), name


def test_an_instrument_with_infinite_limits_round_trips(store: TradingStore) -> None:
    instrument = Instrument(
        symbol="BTC/USDT:USDT",
        venue="binance",
        kind=InstrumentKind.PERPETUAL,
        base="BTC",
        quote="USDT",
        settle="USDT",
        price_increment=0.1,
        size_increment=0.001,
        max_quantity=math.inf,
    )
    store.write({"instruments": [records.instrument_row(instrument, 5)]})
    with store.read() as conn:
        spec = conn.scalar(sa.text("SELECT spec FROM instruments"))
    spec = spec if isinstance(spec, dict) else msgspec.json.decode(spec)
    assert records.instrument_from_spec(spec) == instrument


def test_json_safe_spells_out_non_finite_floats() -> None:
    value = {"a": [1.5, math.inf, {"b": -math.inf}], "c": math.nan, "d": "x"}
    assert records.json_safe(value) == {"a": [1.5, "inf", {"b": "-inf"}], "c": "nan", "d": "x"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_json_text_is_the_json_of_the_json_safe_value(value: object) -> None:
    text = records.json_text(value)
    assert json.loads(text) == json.loads(json.dumps(records.json_safe(value)))
    assert records.stored_json(text) is text  # JSON text in a row is stored as it is
    if not isinstance(value, str):  # JSON columns hold objects and arrays, never bare strings
        assert records.stored_json(value) == text


def _filler(annotation: object, choice: int) -> object:
    """A value of a field's type: awkward ones (quotes, infinities, None) on every other event."""
    awkward = choice % 2 == 1
    if annotation is str:
        return 'a "null", \\ é' if awkward else "x"
    if annotation is int:
        return 2**62 if awkward else 7
    if annotation is float:
        return -math.inf if awkward else 1.25
    if annotation == (float | None):
        return None if awkward else 2.5
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return list(annotation)[choice % len(annotation)]
    raise AssertionError(f"no filler for {annotation}")


EVENTS = [
    cls(**{name: _filler(kind, choice) for name, kind in typing.get_type_hints(cls).items()})
    for cls in records.EVENT_TYPES.values()
    for choice in (0, 1)
]


def test_an_events_own_fields_follow_the_common_ones() -> None:
    """A row's payload is the tail of the event as a tuple (records.order_event_row)."""
    common = OrderEvent.__struct_fields__
    ids = ("client_order_id", "strategy_id", "instrument_id", "ts_event", "ts_init")
    assert common == (*ids, "venue_order_id")
    for cls in records.EVENT_TYPES.values():
        assert cls.__struct_fields__[: len(common)] == common, cls


def test_every_event_type_survives_a_real_database(store: TradingStore) -> None:
    orders = {f"o{i}": [event] for i, event in enumerate(EVENTS)}
    rows = [
        records.order_event_row("run", 0, msgspec.structs.replace(event, client_order_id=cid))
        for cid, (event,) in orders.items()
    ]
    store.write({"order_events": rows})
    back = RunRepository(store).order_events("run")
    assert back == {
        cid: [msgspec.structs.replace(event, client_order_id=cid)]
        for cid, (event,) in orders.items()
    }
    assert {type(e) for (e,) in back.values()} == set(records.EVENT_TYPES.values())


def test_order_flags_are_stored_as_numbers_and_read_back_as_booleans(
    store: TradingStore, demo_results: tuple[BacktestResult, ...]
) -> None:
    row = list(records.order_row("r", demo_results[0].orders[0]))
    names = [c.name for c in row_columns(TABLES["orders"])]
    row[names.index("reduce_only")] = 1
    assert type(row[names.index("post_only")]) is int  # sqlite3 binds bools slowly
    store.write({"orders": [tuple(row)]})
    t = TABLES["orders"]
    with store.read() as conn:
        flags = conn.execute(sa.select(t.c.reduce_only, t.c.post_only)).one()
    assert flags == (True, False) and type(flags[0]) is bool
