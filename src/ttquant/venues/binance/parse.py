"""Binance messages to ttquant events and venue-neutral reports (pure functions, no I/O)."""

from __future__ import annotations

from ttquant.model.account import AccountState
from ttquant.model.data import Bar, BarType, QuoteTick, TradeTick, parse_step
from ttquant.model.enums import AccountType, AggressorSide, LiquiditySide, OrderSide, OrderType
from ttquant.venues.binance.errors import reject_reason
from ttquant.venues.binance.messages import (
    AccountPosition,
    AccountUpdate,
    AggTrade,
    BookTicker,
    ExecutionReport,
    FuturesAssetBalance,
    Kline,
    PositionRisk,
    RestOrder,
    RestTrade,
    SpotAccount,
    Trade,
)
from ttquant.venues.reports import FillReport, OrderReport, PositionReport, ReportStatus

_MS = 1_000_000

STATUS: dict[str, ReportStatus] = {
    "NEW": ReportStatus.NEW,
    "PENDING_NEW": ReportStatus.NEW,
    "PENDING_CANCEL": ReportStatus.NEW,
    "NEW_INSURANCE": ReportStatus.NEW,
    "NEW_ADL": ReportStatus.NEW,
    "PARTIALLY_FILLED": ReportStatus.PARTIALLY_FILLED,
    "FILLED": ReportStatus.FILLED,
    "CANCELED": ReportStatus.CANCELED,
    "EXPIRED": ReportStatus.EXPIRED,
    "EXPIRED_IN_MATCH": ReportStatus.EXPIRED,
    "REJECTED": ReportStatus.REJECTED,
}

ORDER_TYPE: dict[str, OrderType] = {
    "LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT,
    "MARKET": OrderType.MARKET,
    "STOP_LOSS": OrderType.STOP_MARKET,
    "STOP_MARKET": OrderType.STOP_MARKET,
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT,
    "STOP": OrderType.STOP_LIMIT,
    "TAKE_PROFIT": OrderType.STOP_MARKET,
    "TAKE_PROFIT_MARKET": OrderType.STOP_MARKET,
    "TAKE_PROFIT_LIMIT": OrderType.STOP_LIMIT,
    "TRAILING_STOP_MARKET": OrderType.TRAILING_STOP,
    "LIQUIDATION": OrderType.MARKET,
}


def quote_tick(msg: BookTicker, instrument_id: str, ts_init: int) -> QuoteTick:
    ms = msg.txn_ms or msg.event_ms  # spot bookTicker carries no time: use arrival
    return QuoteTick(
        instrument_id=instrument_id,
        bid_price=msg.bid_px,
        ask_price=msg.ask_px,
        bid_size=msg.bid_qty,
        ask_size=msg.ask_qty,
        ts_event=ms * _MS if ms else ts_init,
        ts_init=ts_init,
    )


def trade_tick(msg: Trade | AggTrade, instrument_id: str, ts_init: int) -> TradeTick:
    trade_id = msg.trade_id if isinstance(msg, Trade) else msg.agg_id
    return TradeTick(
        instrument_id=instrument_id,
        price=msg.price,
        size=msg.qty,
        # the maker was the buyer: the seller crossed the spread
        aggressor_side=AggressorSide.SELLER if msg.buyer_is_maker else AggressorSide.BUYER,
        trade_id=str(trade_id),
        ts_event=msg.trade_ms * _MS,
        ts_init=ts_init,
    )


def closed_bar(msg: Kline, instrument_id: str, ts_init: int) -> Bar | None:
    """The bar of a kline message once the candle has closed; None while it is forming."""
    k = msg.kline
    if not k.closed:
        return None
    return Bar(
        bar_type=BarType(instrument_id, parse_step(k.interval)),
        open=k.open,
        high=k.high,
        low=k.low,
        close=k.close,
        volume=k.volume,
        ts_event=k.open_ms * _MS,
        ts_init=(k.close_ms + 1) * _MS,
    )


def execution_report(msg: ExecutionReport) -> OrderReport:
    """A spot ``executionReport`` or a futures ``ORDER_TRADE_UPDATE`` order as a report."""
    # spot names a cancel by the cancel request's id in "c" and the order's own in "C"
    client_id = (
        msg.orig_client_id if msg.exec_type == "CANCELED" and msg.orig_client_id else msg.client_id
    )
    side = OrderSide(msg.side)
    fill = None
    if msg.exec_type == "TRADE":
        fill = FillReport(
            venue_client_id=client_id,
            venue_order_id=str(msg.order_id),
            symbol=msg.symbol,
            trade_id=str(msg.trade_id),
            side=side,
            last_qty=msg.last_qty,
            last_px=msg.last_px,
            commission=msg.commission or 0.0,
            commission_currency=msg.commission_asset or "",
            liquidity_side=LiquiditySide.MAKER if msg.is_maker else LiquiditySide.TAKER,
            ts_event=msg.txn_ms * _MS,
        )
    status = STATUS.get(msg.status, ReportStatus.NEW)
    return OrderReport(
        venue_client_id=client_id,
        venue_order_id=str(msg.order_id),
        symbol=msg.symbol,
        status=status,
        side=side,
        order_type=ORDER_TYPE.get(msg.order_type, OrderType.LIMIT),
        quantity=msg.quantity,
        filled_qty=msg.cum_qty,
        price=msg.price or None,
        ts_event=msg.txn_ms * _MS,
        reason=reject_reason(0, msg.reject_reason) if status is ReportStatus.REJECTED else "",
        message=msg.reject_reason if status is ReportStatus.REJECTED else "",
        fill=fill,
    )


def rest_order(msg: RestOrder, ts_fallback: int) -> OrderReport:
    ms = msg.update_ms or msg.time_ms
    return OrderReport(
        venue_client_id=msg.orig_client_id or msg.client_id,
        venue_order_id=str(msg.order_id),
        symbol=msg.symbol,
        status=STATUS.get(msg.status, ReportStatus.NEW),
        side=OrderSide(msg.side),
        order_type=ORDER_TYPE.get(msg.order_type, OrderType.LIMIT),
        quantity=msg.orig_qty,
        filled_qty=msg.executed_qty,
        price=msg.price or None,
        avg_px=msg.avg_price or float("nan"),
        ts_event=ms * _MS if ms else ts_fallback,
    )


def rest_order_fills(msg: RestOrder, ts_event: int) -> list[FillReport]:
    """The fills a spot ``FULL`` new-order response lists."""
    side = OrderSide(msg.side)
    return [
        FillReport(
            venue_client_id=msg.client_id,
            venue_order_id=str(msg.order_id),
            symbol=msg.symbol,
            trade_id=str(f.trade_id),
            side=side,
            last_qty=f.qty,
            last_px=f.price,
            commission=f.commission,
            commission_currency=f.commission_asset,
            liquidity_side=LiquiditySide.TAKER,  # a fill in the new-order answer took liquidity
            ts_event=ts_event,
        )
        for f in msg.fills
    ]


def rest_trade(msg: RestTrade, venue_client_id: str) -> FillReport:
    buyer = msg.is_buyer or msg.buyer or msg.side == "BUY"
    maker = msg.is_maker or msg.maker
    return FillReport(
        venue_client_id=venue_client_id,
        venue_order_id=str(msg.order_id),
        symbol=msg.symbol,
        trade_id=str(msg.id),
        side=OrderSide.BUY if buyer else OrderSide.SELL,
        last_qty=msg.qty,
        last_px=msg.price,
        commission=msg.commission,
        commission_currency=msg.commission_asset,
        liquidity_side=LiquiditySide.MAKER if maker else LiquiditySide.TAKER,
        ts_event=msg.time * _MS,
    )


def spot_account_state(
    msg: AccountPosition | SpotAccount, venue: str, base_currency: str, ts_event: int
) -> AccountState:
    return AccountState(
        venue=venue,
        account_type=AccountType.CASH,
        base_currency=base_currency,
        balances={b.asset: (b.free + b.locked, b.locked) for b in msg.balances},
        margin_used=0.0,
        ts_event=msg.event_ms * _MS if isinstance(msg, AccountPosition) else ts_event,
    )


def futures_account_state(
    balances: list[FuturesAssetBalance] | AccountUpdate, venue: str, base_currency: str, ts: int
) -> AccountState:
    if isinstance(balances, AccountUpdate):
        values = {b.asset: (b.wallet, 0.0) for b in balances.body.balances}
        ts = balances.event_ms * _MS
    else:
        values = {b.asset: (b.balance, 0.0) for b in balances}
    return AccountState(
        venue=venue,
        account_type=AccountType.MARGIN,
        base_currency=base_currency,
        balances=values,
        margin_used=0.0,
        ts_event=ts,
    )


def position_reports(
    msg: list[PositionRisk] | AccountUpdate, instrument_of: dict[str, str], ts: int
) -> list[PositionReport]:
    """Net positions of configured symbols (one-way mode: position side BOTH)."""
    if isinstance(msg, AccountUpdate):
        rows = [(p.symbol, p.amount, p.entry_price, p.side) for p in msg.body.positions]
        ts = msg.event_ms * _MS
    else:
        rows = [(p.symbol, p.amount, p.entry_price, p.side) for p in msg]
    return [
        PositionReport(instrument_id=instrument_of[sym], quantity=qty, entry_price=px, ts_event=ts)
        for sym, qty, px, side in rows
        if sym in instrument_of and side == "BOTH"
    ]
