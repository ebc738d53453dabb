"""What a venue says about our orders, fills and positions, in venue-neutral form.

Adapters parse their exchange's messages (WebSocket pushes, REST answers) into these reports;
the shared adapter machinery turns reports into order events, once each, whatever mix of
stream and query delivered them. Reconciliation reads the same reports.
"""

from __future__ import annotations

import math
from enum import StrEnum

import msgspec

from ttquant.model.enums import LiquiditySide, OrderSide, OrderType


class ReportStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"

    @property
    def is_terminal(self) -> bool:
        return self not in (ReportStatus.NEW, ReportStatus.PARTIALLY_FILLED)


class FillReport(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    venue_client_id: str
    venue_order_id: str
    symbol: str  # the venue's symbol
    trade_id: str
    side: OrderSide
    last_qty: float
    last_px: float
    commission: float
    commission_currency: str
    liquidity_side: LiquiditySide
    ts_event: int


class OrderReport(msgspec.Struct, frozen=True, kw_only=True):
    venue_client_id: str
    venue_order_id: str
    symbol: str
    status: ReportStatus
    side: OrderSide
    order_type: OrderType
    quantity: float
    filled_qty: float
    ts_event: int
    price: float | None = None
    avg_px: float = math.nan
    reason: str = ""  # reject reason code (REJECTED only)
    message: str = ""
    fill: FillReport | None = None  # the trade this report announces, when it announces one


class PositionReport(msgspec.Struct, frozen=True, kw_only=True):
    instrument_id: str
    quantity: float  # signed: long > 0
    entry_price: float
    ts_event: int


class SendRecord(msgspec.Struct, frozen=True, kw_only=True):
    """Saved before an order leaves: enough to find it again at the venue after a crash."""

    client_order_id: str
    venue_client_id: str
    strategy_id: str
    instrument_id: str
    venue: str
    ts_init: int
