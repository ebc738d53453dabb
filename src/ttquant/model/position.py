"""Net positions, realized/unrealized PnL and round-trip trades.

A position is netted per (strategy, instrument): fills add to it or reduce it at the average
entry price. Each time a position goes from flat back to flat (or flips side) it yields one
:class:`RoundTrip`, the unit reports and statistics call a "trade". A flip is split into a close
of the old side and an open of the new one, with the fill's commission shared pro rata.
"""

from __future__ import annotations

import math

import msgspec

from ttquant.model.enums import OrderSide, PositionSide
from ttquant.model.events import OrderFilled
from ttquant.model.instruments import Instrument

_EPS = 1e-12


class RoundTrip(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A closed trade: from the first opening fill to the fill that made the position flat."""

    strategy_id: str
    instrument_id: str
    side: PositionSide  # LONG or SHORT
    quantity: float  # total quantity opened
    entry_ns: int
    exit_ns: int
    entry_price: float  # average of the opening fills
    exit_price: float  # average of the closing fills
    pnl: float  # realized PnL net of every commission of the trade
    fees: float
    exit_reason: str

    @property
    def return_pct(self) -> float:
        """``pnl`` over the entry notional (a fraction)."""
        notional = self.quantity * self.entry_price
        return self.pnl / notional if notional else 0.0


class Position:
    """The net holding of one strategy in one instrument."""

    __slots__ = (
        "_close_notional",
        "_closed_qty",
        "_open_notional",
        "_opened_qty",
        "_trip_fees",
        "_trip_long",
        "_trip_pnl",
        "avg_px",
        "commissions",
        "instrument",
        "quantity",
        "realized_pnl",
        "strategy_id",
        "ts_opened",
    )

    def __init__(self, instrument: Instrument, strategy_id: str) -> None:
        self.instrument = instrument
        self.strategy_id = strategy_id
        self.quantity = 0.0  # signed: positive long, negative short
        self.avg_px = 0.0
        self.realized_pnl = 0.0  # gross of commissions, settlement currency, since creation
        self.commissions = 0.0
        self.ts_opened = 0
        self._reset_trip()

    def _reset_trip(self) -> None:
        self._opened_qty = 0.0
        self._open_notional = 0.0
        self._closed_qty = 0.0
        self._close_notional = 0.0
        self._trip_pnl = 0.0
        self._trip_fees = 0.0
        self._trip_long = True

    def __repr__(self) -> str:
        return (
            f"Position({self.strategy_id} {self.instrument.id} qty={self.quantity} "
            f"avg_px={self.avg_px} realized={self.realized_pnl})"
        )

    @property
    def side(self) -> PositionSide:
        if self.quantity > _EPS:
            return PositionSide.LONG
        if self.quantity < -_EPS:
            return PositionSide.SHORT
        return PositionSide.FLAT

    @property
    def is_flat(self) -> bool:
        return abs(self.quantity) <= _EPS

    def pnl_per_unit(self, entry: float, exit_: float) -> float:
        """PnL of one long unit from ``entry`` to ``exit_`` in the settlement currency."""
        mult = self.instrument.multiplier
        if self.instrument.is_inverse:
            return mult * (1.0 / entry - 1.0 / exit_)
        return mult * (exit_ - entry)

    def unrealized_pnl(self, price: float) -> float:
        if self.is_flat or math.isnan(price):
            return 0.0
        return self.quantity * self.pnl_per_unit(self.avg_px, price)

    def apply_fill(self, fill: OrderFilled, exit_reason: str = "") -> list[RoundTrip]:
        """Update with ``fill``; return the round trips it closed (zero, or one on a close/flip)."""
        signed = fill.last_qty if fill.side is OrderSide.BUY else -fill.last_qty
        self.commissions += fill.commission
        trips: list[RoundTrip] = []
        if self.is_flat or (self.quantity > 0) == (signed > 0):
            self._open(signed, fill.last_px, fill.commission, fill.ts_event)
            return trips
        closing = min(abs(signed), abs(self.quantity))
        share = closing / abs(signed)
        pnl = math.copysign(closing, self.quantity) * self.pnl_per_unit(self.avg_px, fill.last_px)
        self.realized_pnl += pnl
        self._trip_pnl += pnl
        self._trip_fees += fill.commission * share
        self._closed_qty += closing
        self._close_notional += closing * fill.last_px
        self.quantity += math.copysign(closing, signed)
        if abs(self.quantity) <= _EPS * max(1.0, self._opened_qty):
            self.quantity = 0.0
            trips.append(self._close_trip(fill.ts_event, exit_reason))
        remainder = abs(signed) - closing
        if remainder > _EPS:
            self._open(
                math.copysign(remainder, signed),
                fill.last_px,
                fill.commission * (1.0 - share),
                fill.ts_event,
            )
        return trips

    def _open(self, signed_qty: float, price: float, fee: float, ts: int) -> None:
        if self.is_flat:
            self.ts_opened = ts
            self._trip_long = signed_qty > 0
            self.avg_px = price
            self.quantity = signed_qty
        else:
            total = self.quantity + signed_qty
            self.avg_px = (self.avg_px * self.quantity + price * signed_qty) / total
            self.quantity = total
        self._opened_qty += abs(signed_qty)
        self._open_notional += abs(signed_qty) * price
        self._trip_fees += fee

    def _close_trip(self, ts: int, exit_reason: str) -> RoundTrip:
        opened_qty = self._opened_qty or self._closed_qty
        trip = RoundTrip(
            strategy_id=self.strategy_id,
            instrument_id=self.instrument.id,
            side=PositionSide.LONG if self._trip_long else PositionSide.SHORT,
            quantity=opened_qty,
            entry_ns=self.ts_opened,
            exit_ns=ts,
            entry_price=self._open_notional / opened_qty if opened_qty else 0.0,
            exit_price=self._close_notional / self._closed_qty if self._closed_qty else 0.0,
            pnl=self._trip_pnl - self._trip_fees,
            fees=self._trip_fees,
            exit_reason=exit_reason,
        )
        self._reset_trip()
        self.avg_px = 0.0
        return trip
