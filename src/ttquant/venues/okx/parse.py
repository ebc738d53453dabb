"""OKX v5 messages to ttquant events and venue-neutral reports (pure functions, no I/O)."""

from __future__ import annotations

from ttquant.model.account import AccountState
from ttquant.model.data import Bar, BarType, QuoteTick, TradeTick
from ttquant.model.enums import AccountType, AggressorSide, LiquiditySide, OrderSide, OrderType
from ttquant.venues.okx.errors import POST_ONLY_CANCEL_SOURCE
from ttquant.venues.okx.messages import (
    AccountData,
    Candle,
    FillData,
    OrderData,
    PositionData,
    Ticker,
    TradeData,
    num,
)
from ttquant.venues.reasons import LiveRejectReason
from ttquant.venues.reports import FillReport, OrderReport, PositionReport, ReportStatus

_MS = 1_000_000
STATUS = {
    "live": ReportStatus.NEW,
    "partially_filled": ReportStatus.PARTIALLY_FILLED,
    "filled": ReportStatus.FILLED,
    "canceled": ReportStatus.CANCELED,
    "mmp_canceled": ReportStatus.CANCELED,
}


def quote_tick(msg: Ticker, instrument_id: str, ts_init: int) -> QuoteTick:
    return QuoteTick(
        instrument_id=instrument_id,
        bid_price=num(msg.bidPx),
        ask_price=num(msg.askPx),
        bid_size=num(msg.bidSz),
        ask_size=num(msg.askSz),
        ts_event=int(msg.ts) * _MS,
        ts_init=ts_init,
    )


def trade_tick(msg: TradeData, instrument_id: str, ts_init: int) -> TradeTick:
    return TradeTick(
        instrument_id=instrument_id,
        price=float(msg.px),
        size=float(msg.sz),
        aggressor_side=AggressorSide.BUYER if msg.side == "buy" else AggressorSide.SELLER,
        trade_id=msg.tradeId,
        ts_event=int(msg.ts) * _MS,
        ts_init=ts_init,
    )


def closed_bar(msg: Candle, bar_type: BarType, ts_init: int) -> Bar | None:
    """The bar of a confirmed candle; None while the candle is still forming."""
    if msg.confirm != "1":
        return None
    open_ns = int(msg.ts) * _MS
    return Bar(
        bar_type=bar_type,
        open=float(msg.open),
        high=float(msg.high),
        low=float(msg.low),
        close=float(msg.close),
        volume=float(msg.volume),
        ts_event=open_ns,
        ts_init=open_ns + bar_type.step,
    )


def order_report(msg: OrderData, with_fill: bool) -> OrderReport:
    """An order push (``with_fill``: it announces its latest fill) or a REST order."""
    side = OrderSide.BUY if msg.side == "buy" else OrderSide.SELL
    ts = int(msg.uTime or msg.cTime or "0") * _MS
    fill = None
    if with_fill and msg.tradeId and num(msg.fillSz) > 0.0:
        fill = FillReport(
            venue_client_id=msg.clOrdId,
            venue_order_id=msg.ordId,
            symbol=msg.instId,
            trade_id=msg.tradeId,
            side=side,
            last_qty=num(msg.fillSz),
            last_px=num(msg.fillPx),
            commission=-num(msg.fillFee),  # OKX reports a charged fee as negative
            commission_currency=msg.fillFeeCcy or msg.feeCcy,
            liquidity_side=LiquiditySide.MAKER if msg.execType == "M" else LiquiditySide.TAKER,
            ts_event=int(msg.fillTime or msg.uTime or "0") * _MS,
        )
    status = STATUS.get(msg.state, ReportStatus.NEW)
    reason = message = ""
    if status is ReportStatus.CANCELED and msg.cancelSource == POST_ONLY_CANCEL_SOURCE:
        # what the simulated venue rejects, OKX accepts and cancels at once: same event here
        status = ReportStatus.REJECTED
        reason = LiveRejectReason.POST_ONLY_WOULD_TAKE
        message = "post-only order would have taken liquidity"
    return OrderReport(
        venue_client_id=msg.clOrdId,
        venue_order_id=msg.ordId,
        symbol=msg.instId,
        status=status,
        side=side,
        order_type=OrderType.MARKET if msg.ordType == "market" else OrderType.LIMIT,
        quantity=num(msg.sz),
        filled_qty=num(msg.accFillSz),
        price=num(msg.px) or None,
        avg_px=num(msg.avgPx) or float("nan"),
        ts_event=ts,
        reason=reason,
        message=message,
        fill=fill,
    )


def fill_report(msg: FillData) -> FillReport:
    return FillReport(
        venue_client_id=msg.clOrdId,
        venue_order_id=msg.ordId,
        symbol=msg.instId,
        trade_id=msg.tradeId,
        side=OrderSide.BUY if msg.side == "buy" else OrderSide.SELL,
        last_qty=float(msg.fillSz),
        last_px=float(msg.fillPx),
        commission=-num(msg.fee),
        commission_currency=msg.feeCcy,
        liquidity_side=LiquiditySide.MAKER if msg.execType == "M" else LiquiditySide.TAKER,
        ts_event=int(msg.ts) * _MS,
    )


def account_state(
    msg: AccountData, venue: str, account_type: AccountType, base_currency: str
) -> AccountState:
    return AccountState(
        venue=venue,
        account_type=account_type,
        base_currency=base_currency,
        balances={d.ccy: (num(d.cashBal), num(d.frozenBal)) for d in msg.details},
        margin_used=0.0,
        ts_event=int(msg.uTime or "0") * _MS,
    )


def position_report(msg: PositionData, instrument_id: str) -> PositionReport:
    qty = num(msg.pos)
    if msg.posSide == "short":
        qty = -abs(qty)
    return PositionReport(
        instrument_id=instrument_id,
        quantity=qty,
        entry_price=num(msg.avgPx),
        ts_event=int(msg.uTime or "0") * _MS,
    )
