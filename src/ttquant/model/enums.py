"""Enumerations of the trading domain.

String-valued so that they serialize readably (JSON, CSV, SQL) and compare by identity in hot paths.
"""

from __future__ import annotations

from enum import StrEnum


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    STOP_LIMIT = "STOP_LIMIT"
    TRAILING_STOP = "TRAILING_STOP"  # trails the market, then behaves as a stop-market order


class TimeInForce(StrEnum):
    GTC = "GTC"  # good till canceled
    IOC = "IOC"  # immediate or cancel: fill what can be filled at once, cancel the rest
    FOK = "FOK"  # fill or kill: fill completely at once or cancel
    GTD = "GTD"  # good till date (``expire_ns``)
    DAY = "DAY"  # good for the UTC day on which it was accepted


class OrderStatus(StrEnum):
    INITIALIZED = "INITIALIZED"
    DENIED = "DENIED"  # refused by the pre-trade risk engine before reaching a venue
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    TRIGGERED = "TRIGGERED"
    PENDING_UPDATE = "PENDING_UPDATE"
    PENDING_CANCEL = "PENDING_CANCEL"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


class TrailingOffsetType(StrEnum):
    PRICE = "PRICE"  # an absolute price distance
    PERCENT = "PERCENT"  # a percentage of the reference price (1.0 == 1 %)


class ContingencyType(StrEnum):
    NONE = "NONE"
    OTO = "OTO"  # one triggers other: children are released when the parent fills
    OCO = "OCO"  # one cancels other: a fill on one reduces (or cancels) its siblings


class LiquiditySide(StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"


class AggressorSide(StrEnum):
    BUYER = "BUYER"
    SELLER = "SELLER"
    NONE = "NONE"


class InstrumentKind(StrEnum):
    SPOT = "SPOT"
    PERPETUAL = "PERPETUAL"
    FUTURE = "FUTURE"


class AccountType(StrEnum):
    CASH = "CASH"  # spot wallet: buying spends quote currency, selling needs the base currency
    MARGIN = "MARGIN"  # positions held on margin with leverage; PnL settles in cash


class PositionSide(StrEnum):
    FLAT = "FLAT"
    LONG = "LONG"
    SHORT = "SHORT"


class BarAggregation(StrEnum):
    TIME = "TIME"
    TICK = "TICK"
    VOLUME = "VOLUME"
    VALUE = "VALUE"
