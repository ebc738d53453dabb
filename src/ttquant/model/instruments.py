"""Tradable instruments and their rules.

An instrument is identified by ``SYMBOL@VENUE`` with a ccxt-style symbol: ``BTC/USDT`` (spot),
``BTC/USDT:USDT`` (linear perpetual), ``BTC/USD:BTC`` (inverse perpetual),
``BTC/USDT:USDT-250328`` (dated future). Prices and sizes are floats validated against the
instrument's increments at the boundary (order creation, data loading); inside the kernel they are
trusted. Validation tolerates float representation error (1e-9 of a step), not real mistakes.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from ttquant.core.errors import InstrumentError
from ttquant.model.enums import InstrumentKind

_STEP_TOLERANCE = 1e-9
_ROUNDING_NOISE = 1e-12  # relative: thousands of ulps, far below one lot in any real size


def instrument_id(symbol: str, venue: str) -> str:
    """The canonical id ``SYMBOL@VENUE``."""
    return f"{symbol}@{venue.upper()}"


def split_instrument_id(iid: str) -> tuple[str, str]:
    symbol, sep, venue = iid.rpartition("@")
    if not sep or not symbol or not venue:
        raise InstrumentError(f"instrument id {iid!r} is not of the form SYMBOL@VENUE")
    return symbol, venue


def _decimals(increment: float) -> int:
    """Digits after the point needed to print multiples of ``increment`` exactly."""
    text = f"{increment:.12f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def _is_multiple(value: float, increment: float) -> bool:
    steps = value / increment
    return abs(steps - round(steps)) <= _STEP_TOLERANCE * max(1.0, abs(steps))


class Instrument(msgspec.Struct, frozen=True, kw_only=True, dict=True):
    """Contract specification: what can be traded, in which steps, at which cost."""

    symbol: str
    venue: str
    kind: InstrumentKind = InstrumentKind.SPOT
    base: str
    quote: str
    settle: str = ""  # settlement currency; empty means the quote currency
    price_increment: float = 0.01
    size_increment: float = 1e-8
    min_quantity: float = 0.0
    max_quantity: float = math.inf
    min_notional: float = 0.0
    multiplier: float = 1.0
    maker_fee: float = 0.0  # fraction of notional, e.g. 0.001 == 10 bps; negative is a rebate
    taker_fee: float = 0.0
    is_inverse: bool = False  # contract value in quote currency, PnL in base (e.g. BTC/USD:BTC)
    expiry_ns: int | None = None
    # derived fields, stored because they are read on every order
    id: str = ""  # SYMBOL@VENUE
    price_decimals: int = 0
    size_decimals: int = 0

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "venue", self.venue.upper())
        msgspec.structs.force_setattr(self, "id", instrument_id(self.symbol, self.venue))
        msgspec.structs.force_setattr(self, "price_decimals", _decimals(self.price_increment))
        msgspec.structs.force_setattr(self, "size_decimals", _decimals(self.size_increment))
        if self.price_increment <= 0 or self.size_increment <= 0:
            raise InstrumentError(f"{self.id}: price and size increments must be positive")
        if self.multiplier <= 0:
            raise InstrumentError(f"{self.id}: multiplier must be positive")

    @property
    def settlement_currency(self) -> str:
        return self.settle or (self.base if self.is_inverse else self.quote)

    def round_price(self, price: float) -> float:
        """The nearest valid price."""
        return round(
            round(price / self.price_increment) * self.price_increment, self.price_decimals
        )

    def round_quantity(self, quantity: float) -> float:
        """The largest valid quantity not above ``quantity`` (never rounds an order up)."""
        steps = quantity / self.size_increment
        nearest = round(steps)
        # a sum of lots lands a few ulps off a whole number of lots: that is the number meant
        if abs(steps - nearest) <= _ROUNDING_NOISE * max(1.0, abs(steps)):
            return round(nearest * self.size_increment, self.size_decimals)
        return round(math.floor(steps) * self.size_increment, self.size_decimals)

    def notional(self, quantity: float, price: float) -> float:
        """Value of ``quantity`` at ``price`` in the settlement currency."""
        if self.is_inverse:
            return abs(quantity) * self.multiplier / price
        return abs(quantity) * self.multiplier * price

    def check_price(self, price: float, what: str = "price") -> str | None:
        """Why ``price`` is invalid for this instrument, or None when it is valid."""
        if not math.isfinite(price) or price <= 0:
            return f"{what} {price} must be a positive finite number"
        if not _is_multiple(price, self.price_increment):
            return f"{what} {price} is not a multiple of the price increment {self.price_increment}"
        return None

    def check_quantity(self, quantity: float) -> str | None:
        """Why ``quantity`` is invalid for this instrument, or None when it is valid."""
        if not math.isfinite(quantity) or quantity <= 0:
            return f"quantity {quantity} must be a positive finite number"
        if not _is_multiple(quantity, self.size_increment):
            return (
                f"quantity {quantity} is not a multiple of the size increment {self.size_increment}"
            )
        if quantity < self.min_quantity * (1 - _STEP_TOLERANCE):
            return f"quantity {quantity} is below the minimum quantity {self.min_quantity}"
        if quantity > self.max_quantity:
            return f"quantity {quantity} is above the maximum quantity {self.max_quantity}"
        return None

    def check_notional(self, quantity: float, price: float) -> str | None:
        notional = abs(quantity) * self.multiplier * price
        if self.min_notional and notional < self.min_notional * (1 - _STEP_TOLERANCE):
            return (
                f"notional {notional:.8g} {self.quote} is below the minimum notional "
                f"{self.min_notional} {self.quote}"
            )
        return None


def spot(symbol: str, venue: str = "SIM", **rules: Any) -> Instrument:
    """A spot instrument from a ccxt-style ``BASE/QUOTE`` symbol."""
    base, quote = _parse_pair(symbol)
    return Instrument(
        symbol=symbol, venue=venue, kind=InstrumentKind.SPOT, base=base, quote=quote, **rules
    )


def perpetual(symbol: str, venue: str = "SIM", **rules: Any) -> Instrument:
    """A perpetual swap from ``BASE/QUOTE:SETTLE``; inverse when settle == base."""
    pair, _, settle = symbol.partition(":")
    base, quote = _parse_pair(pair)
    if not settle:
        raise InstrumentError(
            f"perpetual symbol {symbol!r} needs a settle currency: BASE/QUOTE:SETTLE"
        )
    return Instrument(
        symbol=symbol,
        venue=venue,
        kind=InstrumentKind.PERPETUAL,
        base=base,
        quote=quote,
        settle=settle,
        is_inverse=settle == base,
        **rules,
    )


def _parse_pair(pair: str) -> tuple[str, str]:
    base, sep, quote = pair.partition("/")
    if not sep or not base or not quote:
        raise InstrumentError(f"symbol {pair!r} is not of the form BASE/QUOTE")
    return base, quote


def instrument_from_symbol(symbol: str, venue: str = "SIM", **rules: Any) -> Instrument:
    """Spot for ``BASE/QUOTE``, perpetual for ``BASE/QUOTE:SETTLE`` (the CLI's ``--symbol``)."""
    return perpetual(symbol, venue, **rules) if ":" in symbol else spot(symbol, venue, **rules)
