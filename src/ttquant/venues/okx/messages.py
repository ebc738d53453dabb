"""OKX v5 message shapes, decoded with msgspec.

OKX sends every number as a string, and leaves optional ones empty (``"px": ""`` for a market
order), so order and account fields are kept as strings and converted with :func:`num`. Book
levels stay strings: the checksum is computed over them exactly as sent.
"""

from __future__ import annotations

import msgspec


def num(text: str) -> float:
    """OKX's number strings; empty means zero (absent)."""
    return float(text) if text else 0.0


class Arg(msgspec.Struct):
    channel: str = ""
    instId: str = ""  # noqa: N815  (OKX's field names, kept for msgspec)
    instType: str = ""  # noqa: N815


class Push(msgspec.Struct):
    """A data push ``{"arg", "action"?, "data"}`` or an event ``{"event", "code", "msg"}``."""

    arg: Arg | None = None
    data: msgspec.Raw = msgspec.Raw()
    action: str = ""
    event: str = ""
    code: str = ""
    msg: str = ""


BookLevel = tuple[str, str, str, str]  # price, size, (deprecated), order count


class BookData(msgspec.Struct):
    asks: list[BookLevel]
    bids: list[BookLevel]
    ts: str = "0"
    checksum: int | None = None
    seqId: int = -1  # noqa: N815
    prevSeqId: int = -1  # noqa: N815


class Ticker(msgspec.Struct):
    instId: str  # noqa: N815
    bidPx: str = ""  # noqa: N815
    bidSz: str = ""  # noqa: N815
    askPx: str = ""  # noqa: N815
    askSz: str = ""  # noqa: N815
    ts: str = "0"


class TradeData(msgspec.Struct):
    instId: str  # noqa: N815
    tradeId: str  # noqa: N815
    px: str
    sz: str
    side: str  # the taker's side
    ts: str


class Candle(msgspec.Struct, array_like=True):
    """``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``."""

    ts: str
    open: str
    high: str
    low: str
    close: str
    volume: str
    vol_ccy: str = ""
    vol_quote: str = ""
    confirm: str = "0"


class OrderData(msgspec.Struct):
    """An order in the ``orders`` channel and in REST order queries."""

    instId: str  # noqa: N815
    ordId: str  # noqa: N815
    clOrdId: str  # noqa: N815
    side: str
    ordType: str  # noqa: N815
    state: str
    sz: str
    px: str = ""
    accFillSz: str = "0"  # noqa: N815
    avgPx: str = ""  # noqa: N815
    fillPx: str = ""  # noqa: N815
    fillSz: str = ""  # noqa: N815
    tradeId: str = ""  # noqa: N815
    fillFee: str = ""  # noqa: N815  (fee of this fill, negative when charged)
    fillFeeCcy: str = ""  # noqa: N815
    feeCcy: str = ""  # noqa: N815
    execType: str = ""  # noqa: N815
    fillTime: str = ""  # noqa: N815
    cancelSource: str = ""  # noqa: N815
    uTime: str = "0"  # noqa: N815
    cTime: str = "0"  # noqa: N815


class FillData(msgspec.Struct):
    """``GET /api/v5/trade/fills``."""

    instId: str  # noqa: N815
    tradeId: str  # noqa: N815
    ordId: str  # noqa: N815
    clOrdId: str  # noqa: N815
    fillPx: str  # noqa: N815
    fillSz: str  # noqa: N815
    side: str
    execType: str  # noqa: N815
    fee: str
    feeCcy: str  # noqa: N815
    ts: str


class BalanceDetail(msgspec.Struct):
    ccy: str
    cashBal: str = "0"  # noqa: N815
    frozenBal: str = "0"  # noqa: N815


class AccountData(msgspec.Struct):
    details: list[BalanceDetail]
    uTime: str = "0"  # noqa: N815


class PositionData(msgspec.Struct):
    instId: str  # noqa: N815
    pos: str
    avgPx: str = ""  # noqa: N815
    posSide: str = "net"  # noqa: N815
    uTime: str = "0"  # noqa: N815


class Response(msgspec.Struct):
    """Every REST answer: ``code`` "0" is success; ``data`` holds the items."""

    code: str
    msg: str = ""
    data: msgspec.Raw = msgspec.Raw()


class OrderAck(msgspec.Struct):
    """One item of a place/cancel/amend answer: ``sCode`` "0" is success."""

    sCode: str  # noqa: N815
    sMsg: str = ""  # noqa: N815
    ordId: str = ""  # noqa: N815
    clOrdId: str = ""  # noqa: N815


class ServerTime(msgspec.Struct):
    ts: str
