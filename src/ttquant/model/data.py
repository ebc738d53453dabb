"""Market data events: bars, trade ticks and quote ticks.

Events are small frozen msgspec structs: cheap to create (about 100 ns), safe to keep (a strategy
may store them) and encodable as msgpack/JSON for the wire and the API. Every event carries
``ts_event`` (when it happened at the venue) and ``ts_init`` (when ttquant could first know it);
the kernel orders and clocks events by ``ts_init``. For a bar, ``ts_event`` is the bar's open time
as data vendors stamp it and ``ts_init`` its close, when it becomes known.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

from ttquant.core.errors import ConfigError
from ttquant.model.enums import AggressorSide, BarAggregation

_STEP_UNITS: Final = (
    ("w", 7 * 86_400 * 10**9),
    ("d", 86_400 * 10**9),
    ("h", 3_600 * 10**9),
    ("m", 60 * 10**9),
    ("s", 10**9),
    ("ms", 10**6),
    ("us", 10**3),
    ("ns", 1),
)
_STEP_RE: Final = re.compile(r"(\d+)(w|d|h|m|s|ms|us|ns)")


def format_step(step_ns: int) -> str:
    """Shortest exact name of a step ("1m", "4h", "1w", "90s"); inverse of :func:`parse_step`."""
    if step_ns <= 0:
        raise ValueError(f"bar step must be positive, got {step_ns}")
    for unit, size in _STEP_UNITS:
        if step_ns % size == 0:
            return f"{step_ns // size}{unit}"
    raise AssertionError("unreachable: 1ns divides every step")


def parse_step(text: str) -> int:
    """Nanoseconds of a step such as "1m", "15m", "4h", "1d", "1w", "30s".

    Months and years are refused because their length varies.
    """
    match = _STEP_RE.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(
            f"invalid bar step {text!r}: expected a positive whole number and one of the units "
            f"{', '.join(u for u, _ in _STEP_UNITS)} (e.g. 1m, 15m, 1h, 4h, 1d, 1w, 30s)"
        )
    return int(match.group(1)) * dict(_STEP_UNITS)[match.group(2)]


class BarType(msgspec.Struct, frozen=True, gc=False):
    """What a bar summarises: instrument, step and how the step is measured.

    For TIME bars ``step`` is in nanoseconds; for TICK, VOLUME and VALUE bars it is the number
    of ticks, the volume or the traded value per bar.
    """

    instrument_id: str
    step: int
    aggregation: BarAggregation = BarAggregation.TIME

    def __str__(self) -> str:
        if self.aggregation is BarAggregation.TIME:
            return f"{self.instrument_id}:{format_step(self.step)}"
        return f"{self.instrument_id}:{self.step}-{self.aggregation.value}"

    @classmethod
    def time(cls, instrument_id: str, step: str | int) -> BarType:
        return cls(instrument_id, parse_step(step) if isinstance(step, str) else step)


class Bar(msgspec.Struct, frozen=True, gc=False):
    bar_type: BarType
    open: float
    high: float
    low: float
    close: float
    volume: float
    ts_event: int  # bar open time, ns UTC
    ts_init: int  # bar close time: when the bar is known
    # False for a bar built without all of its data: a window cut by a gap or by the end of the
    # data, or a candle a venue reported before it closed
    complete: bool = True

    @property
    def instrument_id(self) -> str:
        return self.bar_type.instrument_id


class TradeTick(msgspec.Struct, frozen=True, gc=False):
    instrument_id: str
    price: float
    size: float
    aggressor_side: AggressorSide
    trade_id: str
    ts_event: int
    ts_init: int


class QuoteTick(msgspec.Struct, frozen=True, gc=False):
    instrument_id: str
    bid_price: float
    ask_price: float
    bid_size: float
    ask_size: float
    ts_event: int
    ts_init: int

    @property
    def mid(self) -> float:
        return (self.bid_price + self.ask_price) / 2.0


MarketData = Bar | TradeTick | QuoteTick


def bar_topic(bar_type: BarType) -> str:
    return f"data.bars.{bar_type}"


def trade_topic(instrument_id: str) -> str:
    return f"data.trades.{instrument_id}"


def quote_topic(instrument_id: str) -> str:
    return f"data.quotes.{instrument_id}"
