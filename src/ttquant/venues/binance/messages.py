"""Binance message shapes (spot and USDⓈ-M futures), decoded with msgspec.

Field names follow Binance's one-letter keys through ``name=``; prices and sizes arrive as
strings and are decoded straight to floats (``strict=False``). Only fields the adapter uses are
declared; msgspec skips the rest without building them, which is where its speed comes from.
"""

from __future__ import annotations

import msgspec
from msgspec import field

Level = tuple[float, float]


class Envelope(msgspec.Struct):
    """A combined-stream frame, or the answer to a SUBSCRIBE request."""

    stream: str = ""
    data: msgspec.Raw = msgspec.Raw()
    id: int | None = None
    error: dict[str, object] | None = None


class DepthUpdate(msgspec.Struct):
    symbol: str = field(name="s")
    first_id: int = field(name="U")
    last_id: int = field(name="u")
    bids: list[Level] = field(name="b")
    asks: list[Level] = field(name="a")
    event_ms: int = field(name="E", default=0)
    prev_last_id: int = field(name="pu", default=-1)  # futures only


class DepthSnapshot(msgspec.Struct):
    last_update_id: int = field(name="lastUpdateId")
    bids: list[Level]
    asks: list[Level]


class BookTicker(msgspec.Struct):
    update_id: int = field(name="u")
    symbol: str = field(name="s")
    bid_px: float = field(name="b")
    bid_qty: float = field(name="B")
    ask_px: float = field(name="a")
    ask_qty: float = field(name="A")
    event_ms: int = field(name="E", default=0)  # futures only
    txn_ms: int = field(name="T", default=0)  # futures only


class Trade(msgspec.Struct):
    symbol: str = field(name="s")
    trade_id: int = field(name="t")
    price: float = field(name="p")
    qty: float = field(name="q")
    trade_ms: int = field(name="T")
    buyer_is_maker: bool = field(name="m")


class AggTrade(msgspec.Struct):
    symbol: str = field(name="s")
    agg_id: int = field(name="a")
    price: float = field(name="p")
    qty: float = field(name="q")
    trade_ms: int = field(name="T")
    buyer_is_maker: bool = field(name="m")


class KlineBody(msgspec.Struct):
    open_ms: int = field(name="t")
    close_ms: int = field(name="T")
    interval: str = field(name="i")
    open: float = field(name="o")
    high: float = field(name="h")
    low: float = field(name="l")
    close: float = field(name="c")
    volume: float = field(name="v")
    closed: bool = field(name="x")


class Kline(msgspec.Struct):
    symbol: str = field(name="s")
    kline: KlineBody = field(name="k")


# -- user data stream -------------------------------------------------------------------------
class EventHeader(msgspec.Struct):
    event: str = field(name="e", default="")


class Wrapped(msgspec.Struct):
    """A user data event delivered by the WebSocket API's subscription, ``{"event": {...}}``."""

    event: msgspec.Raw = msgspec.Raw()


class ExecutionReport(msgspec.Struct):
    """Spot ``executionReport``; futures ``ORDER_TRADE_UPDATE.o`` has the same keys we use."""

    symbol: str = field(name="s")
    client_id: str = field(name="c")
    side: str = field(name="S")
    order_type: str = field(name="o")
    quantity: float = field(name="q")
    price: float = field(name="p")
    exec_type: str = field(name="x")
    status: str = field(name="X")
    order_id: int = field(name="i")
    last_qty: float = field(name="l")
    cum_qty: float = field(name="z")
    last_px: float = field(name="L")
    txn_ms: int = field(name="T")
    trade_id: int = field(name="t")
    is_maker: bool = field(name="m")
    commission: float | None = field(name="n", default=None)
    commission_asset: str | None = field(name="N", default=None)
    orig_client_id: str = field(name="C", default="")  # spot: the canceled order's id
    reject_reason: str = field(name="r", default="NONE")
    event_ms: int = field(name="E", default=0)


class OrderTradeUpdate(msgspec.Struct):
    event_ms: int = field(name="E")
    order: ExecutionReport = field(name="o")


class SpotBalance(msgspec.Struct):
    asset: str = field(name="a")
    free: float = field(name="f")
    locked: float = field(name="l")


class AccountPosition(msgspec.Struct):
    event_ms: int = field(name="E")
    balances: list[SpotBalance] = field(name="B")


class FuturesBalance(msgspec.Struct):
    asset: str = field(name="a")
    wallet: float = field(name="wb")


class FuturesPosition(msgspec.Struct):
    symbol: str = field(name="s")
    amount: float = field(name="pa")
    entry_price: float = field(name="ep")
    side: str = field(name="ps", default="BOTH")


class AccountUpdateBody(msgspec.Struct):
    balances: list[FuturesBalance] = field(name="B", default_factory=list)
    positions: list[FuturesPosition] = field(name="P", default_factory=list)


class AccountUpdate(msgspec.Struct):
    event_ms: int = field(name="E")
    body: AccountUpdateBody = field(name="a")


# -- REST -------------------------------------------------------------------------------------
class ApiError(msgspec.Struct):
    code: int
    msg: str


class RestFill(msgspec.Struct):
    price: float
    qty: float
    commission: float
    commission_asset: str = field(name="commissionAsset")
    trade_id: int = field(name="tradeId")


class RestOrder(msgspec.Struct):
    """An order as REST returns it (new, query, cancel, open orders), spot or futures."""

    symbol: str
    order_id: int = field(name="orderId")
    client_id: str = field(name="clientOrderId")
    status: str
    side: str
    order_type: str = field(name="type")
    orig_qty: float = field(name="origQty")
    executed_qty: float = field(name="executedQty")
    price: float = 0.0
    orig_client_id: str = field(name="origClientOrderId", default="")
    avg_price: float = field(name="avgPrice", default=0.0)  # futures
    time_ms: int = field(name="transactTime", default=0)
    update_ms: int = field(name="updateTime", default=0)
    fills: list[RestFill] = field(default_factory=list)  # spot FULL response


class RestTrade(msgspec.Struct):
    """``myTrades`` (spot) / ``userTrades`` (futures)."""

    symbol: str
    id: int
    order_id: int = field(name="orderId")
    price: float
    qty: float
    commission: float
    commission_asset: str = field(name="commissionAsset")
    time: int
    is_maker: bool = field(name="isMaker", default=False)
    maker: bool = False  # futures spells it "maker"
    is_buyer: bool = field(name="isBuyer", default=False)
    buyer: bool = False  # futures
    side: str = ""  # futures


class RestBalance(msgspec.Struct):
    asset: str
    free: float
    locked: float


class SpotAccount(msgspec.Struct):
    balances: list[RestBalance]


class FuturesAssetBalance(msgspec.Struct):
    asset: str
    balance: float
    available: float = field(name="availableBalance", default=0.0)


class PositionRisk(msgspec.Struct):
    symbol: str
    amount: float = field(name="positionAmt")
    entry_price: float = field(name="entryPrice")
    side: str = field(name="positionSide", default="BOTH")
    update_ms: int = field(name="updateTime", default=0)


class ServerTime(msgspec.Struct):
    server_time: int = field(name="serverTime")


class ListenKey(msgspec.Struct):
    listen_key: str = field(name="listenKey")


class CancelReplace(msgspec.Struct):
    cancel_result: str = field(name="cancelResult")
    new_order_result: str = field(name="newOrderResult")
    new_order: RestOrder | None = field(name="newOrderResponse", default=None)
