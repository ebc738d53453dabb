"""A generic adapter for the long tail of exchanges, through ccxt's unified API.

ccxt gives breadth, not depth: REST calls with unified shapes for about a hundred venues, and,
where ccxt's ``pro`` streams exist for a venue, ``watch_*`` WebSocket streams. This adapter
uses a stream when the venue has one and polls otherwise; the shared machinery of
:class:`~ttquant.venues.adapter.LiveAdapter` does the rest (save before send, unknown sends
resolved by query, exactly-once fills: ccxt's order polls only report filled quantities, and
the fills behind them are fetched as trades).

Every ccxt call that fails with a network error counts as "outcome unknown": ccxt does not
say whether a request left, so the adapter never assumes it did not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import ccxt.async_support as ccxt_async
import msgspec

from ttquant.core.errors import ConfigError, VenueError
from ttquant.model.account import AccountState
from ttquant.model.data import Bar, BarType, QuoteTick, TradeTick, format_step
from ttquant.model.enums import (
    AccountType,
    AggressorSide,
    InstrumentKind,
    LiquiditySide,
    OrderSide,
    OrderType,
)
from ttquant.model.instruments import Instrument
from ttquant.model.orders import Order
from ttquant.venues.adapter import AdapterConfig, LiveAdapter, TrackedOrder
from ttquant.venues.book import OrderBook
from ttquant.venues.net.backoff import Backoff
from ttquant.venues.net.errors import (
    RequestOutcomeUnknownError,
    VenueRejectedError,
)
from ttquant.venues.reasons import LiveRejectReason as R
from ttquant.venues.reports import (
    FillReport,
    OrderReport,
    PositionReport,
    ReportStatus,
    SendRecord,
)

try:  # ccxt.pro streams ship inside ccxt since 4.x
    import ccxt.pro as ccxt_pro
except ImportError:  # pragma: no cover - depends on the installed ccxt
    ccxt_pro = None

log = logging.getLogger(__name__)
_MS = 1_000_000
_STATUS = {
    "open": ReportStatus.NEW,
    "closed": ReportStatus.FILLED,
    "canceled": ReportStatus.CANCELED,
    "cancelled": ReportStatus.CANCELED,
    "expired": ReportStatus.EXPIRED,
    "rejected": ReportStatus.REJECTED,
}
# ccxt's error hierarchy, most specific first, to reject reasons
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (ccxt_async.InsufficientFunds, R.INSUFFICIENT_BALANCE),
    (ccxt_async.BadSymbol, R.UNKNOWN_INSTRUMENT),
    (ccxt_async.DuplicateOrderId, R.DUPLICATE_ORDER_ID),
    (ccxt_async.InvalidNonce, R.TIMESTAMP),
    (ccxt_async.AuthenticationError, R.AUTHENTICATION),
    (ccxt_async.PermissionDenied, R.AUTHENTICATION),
    (ccxt_async.RateLimitExceeded, R.RATE_LIMITED),
    (ccxt_async.DDoSProtection, R.RATE_LIMITED),
)


class CcxtConfig(AdapterConfig, kw_only=True):
    exchange: str  # ccxt's id: "binance", "kraken", "bybit", ...
    options: dict[str, Any] = msgspec.field(default_factory=dict)  # extra ccxt constructor config
    use_streams: bool = True  # use ccxt.pro watch_* where the venue has it
    poll_interval: float = 1.0  # seconds between polls of open orders (and data without streams)


class CcxtAdapter(LiveAdapter):
    """Any exchange ccxt supports, by its unified API."""

    def __init__(
        self,
        config: CcxtConfig,
        instruments: list[Instrument],
        *,
        name: str | None = None,
        clock: Callable[[], int] | None = None,
        save_before_send: Callable[[SendRecord], None] | None = None,
    ) -> None:
        if config.exchange not in ccxt_async.exchanges:
            raise ConfigError(f"ccxt has no exchange {config.exchange!r}")
        kwargs: dict[str, Any] = {"save_before_send": save_before_send}
        if clock is not None:
            kwargs["clock"] = clock
        super().__init__(name or config.exchange, config, instruments, **kwargs)
        self.cfg = config
        pro = config.use_streams and ccxt_pro is not None and hasattr(ccxt_pro, config.exchange)
        module: Any = ccxt_pro if pro else ccxt_async
        settings = {
            "apiKey": config.api_key,
            "secret": config.api_secret,
            "password": config.passphrase,
            "timeout": int(config.request_timeout * 1000),
            "enableRateLimit": True,
            **config.options,
        }
        self.exchange: Any = getattr(module, config.exchange)(settings)
        self._loops: list[asyncio.Task[None]] = []
        self._last_data: dict[str, float] = {}  # feed name -> monotonic time of its last data
        self._books: dict[str, OrderBook] = {}

    def venue_symbol(self, instrument: Instrument) -> str:
        return instrument.symbol  # ttquant's symbols are ccxt's unified symbols

    def unsupported(self, order: Order) -> str | None:
        problem = super().unsupported(order)
        if problem is None and order.is_stop:
            return "stop orders are not mapped for ccxt venues"
        return problem

    @property
    def stale(self) -> bool:
        limit = self.cfg.stale_after
        now = time.monotonic()
        return any(now - last > limit for last in self._last_data.values())

    def _has(self, feature: str) -> bool:
        return bool(self.exchange.has.get(feature))

    # -- connection -----------------------------------------------------------------------------
    async def _connect(self) -> None:
        try:
            await self.exchange.load_markets()
        except ccxt_async.BaseError as exc:
            raise VenueError(f"{self.name}: loading markets failed: {exc}") from exc
        missing = [s for s in self._instrument_of if s not in self.exchange.markets]
        if missing:
            raise ConfigError(f"{self.name}: unknown symbols {', '.join(missing)}")
        if self.cfg.api_key:
            self._run_loop("orders", self._poll_orders)

    async def _disconnect(self) -> None:
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.exchange.close()

    def _run_loop(self, name: str, step: Callable[[], Awaitable[None]]) -> None:
        """Repeat ``step`` until disconnect; errors back off with jitter and are retried."""

        async def loop() -> None:
            backoff = Backoff(self.cfg.backoff_initial, self.cfg.backoff_max)
            while True:
                try:
                    await step()
                    backoff.reset()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("%s: %s failed: %s", self.name, name, exc)
                    await asyncio.sleep(backoff.next_delay())

        self._loops.append(
            asyncio.get_running_loop().create_task(loop(), name=f"{self.name}:{name}")
        )

    async def _poll_orders(self) -> None:
        await asyncio.sleep(self.cfg.poll_interval)
        for track in [t for t in self._by_client_id.values() if not t.done and not t.unknown]:
            await self.refresh(track)

    # -- market data ----------------------------------------------------------------------------
    def _data_loop(
        self,
        name: str,
        watch: str,
        poll: str,
        args: tuple[Any, ...],
        handle: Callable[[Any, int], None],
    ) -> None:
        """Stream with ``watch`` when the venue has it, else poll ``poll`` every interval."""
        streaming = self.cfg.use_streams and self._has(watch)
        self._last_data[name] = time.monotonic()

        async def step() -> None:
            if streaming:
                result = await getattr(self.exchange, _snake(watch))(*args)
            else:
                await asyncio.sleep(self.cfg.poll_interval)
                result = await getattr(self.exchange, _snake(poll))(*args)
            self._last_data[name] = time.monotonic()
            handle(result, self.clock())

        self._run_loop(name, step)

    async def subscribe_quotes(self, instrument_id: str) -> None:
        symbol = self.symbol_of(instrument_id)

        def handle(ticker: dict[str, Any], ts_init: int) -> None:
            if ticker.get("bid") is None or ticker.get("ask") is None:
                return
            self._emit_data(
                QuoteTick(
                    instrument_id=instrument_id,
                    bid_price=float(ticker["bid"]),
                    ask_price=float(ticker["ask"]),
                    bid_size=float(ticker.get("bidVolume") or 0.0),
                    ask_size=float(ticker.get("askVolume") or 0.0),
                    ts_event=int(ticker.get("timestamp") or 0) * _MS or ts_init,
                    ts_init=ts_init,
                )
            )

        name = f"quotes:{symbol}"
        if self.cfg.use_streams and self._has("watchBidsAsks"):  # best bid/ask, not 24 h stats
            self._data_loop(
                name, "watchBidsAsks", "", ([symbol],), lambda r, ts: handle(r.get(symbol, {}), ts)
            )
        else:
            self._data_loop(name, "watchTicker", "fetchTicker", (symbol,), handle)

    async def subscribe_trades(self, instrument_id: str) -> None:
        symbol = self.symbol_of(instrument_id)
        seen: set[str] = set()

        def handle(trades: list[dict[str, Any]], ts_init: int) -> None:
            for t in trades:
                trade_id = str(t.get("id"))
                if trade_id in seen:
                    continue  # polls and stream caches repeat recent trades
                seen.add(trade_id)
                if len(seen) > 10_000:
                    seen.clear()
                    seen.add(trade_id)
                self._emit_data(
                    TradeTick(
                        instrument_id=instrument_id,
                        price=float(t["price"]),
                        size=float(t["amount"]),
                        aggressor_side=(
                            AggressorSide.BUYER
                            if t.get("side") == "buy"
                            else AggressorSide.SELLER
                            if t.get("side") == "sell"
                            else AggressorSide.NONE
                        ),
                        trade_id=trade_id,
                        ts_event=int(t.get("timestamp") or 0) * _MS,
                        ts_init=ts_init,
                    )
                )

        self._data_loop(f"trades:{symbol}", "watchTrades", "fetchTrades", (symbol,), handle)

    async def subscribe_bars(self, bar_type: BarType) -> None:
        symbol = self.symbol_of(bar_type.instrument_id)
        timeframe = format_step(bar_type.step)
        last_emitted = [0]

        def handle(candles: list[list[float]], ts_init: int) -> None:
            # a candle is complete once a later one exists: emit all but the newest
            for row in candles[:-1]:
                open_ms = int(row[0])
                if open_ms <= last_emitted[0]:
                    continue
                last_emitted[0] = open_ms
                self._emit_data(
                    Bar(
                        bar_type=bar_type,
                        open=float(row[1]),
                        high=float(row[2]),
                        low=float(row[3]),
                        close=float(row[4]),
                        volume=float(row[5]),
                        ts_event=open_ms * _MS,
                        ts_init=open_ms * _MS + bar_type.step,
                    )
                )

        self._data_loop(
            f"bars:{symbol}:{timeframe}", "watchOHLCV", "fetchOHLCV", (symbol, timeframe), handle
        )

    async def subscribe_book(self, instrument_id: str) -> None:
        symbol = self.symbol_of(instrument_id)
        book = self._books[symbol] = OrderBook(instrument_id)

        def handle(snapshot: dict[str, Any], ts_init: int) -> None:
            book.reset(
                [(float(p), float(q)) for p, q, *_ in snapshot["bids"]],
                [(float(p), float(q)) for p, q, *_ in snapshot["asks"]],
                int(snapshot.get("nonce") or 0),
            )
            self._emit_data(book.depth(self.cfg.book_levels, ts_init))

        self._data_loop(f"book:{symbol}", "watchOrderBook", "fetchOrderBook", (symbol,), handle)

    def book(self, instrument_id: str) -> OrderBook:
        return self._books[self.symbol_of(instrument_id)]

    # -- trading --------------------------------------------------------------------------------
    async def _call(self, method: str, *args: Any) -> Any:
        """A ccxt call with its failures translated to the adapter's error kinds."""
        try:
            return await getattr(self.exchange, method)(*args)
        except ccxt_async.OrderNotFound:
            raise
        except ccxt_async.NetworkError as exc:
            raise RequestOutcomeUnknownError(f"{self.name}: {method}: {exc}") from exc
        except ccxt_async.BaseError as exc:
            raise VenueRejectedError(self.name, type(exc).__name__, str(exc)) from exc

    def reject_reason(self, error: VenueRejectedError) -> str:
        for kind, reason in _REASONS:
            if error.code == kind.__name__:
                return reason
        return R.VENUE_REJECTED

    def _report(self, order: dict[str, Any]) -> OrderReport:
        filled = float(order.get("filled") or 0.0)
        status = _STATUS.get(str(order.get("status")), ReportStatus.NEW)
        if status is ReportStatus.NEW and filled > 0.0:
            status = ReportStatus.PARTIALLY_FILLED
        stamp = order.get("lastUpdateTimestamp") or order.get("timestamp") or 0
        return OrderReport(
            venue_client_id=str(order.get("clientOrderId") or ""),
            venue_order_id=str(order.get("id") or ""),
            symbol=str(order.get("symbol")),
            status=status,
            side=OrderSide.BUY if order.get("side") == "buy" else OrderSide.SELL,
            order_type=OrderType.MARKET if order.get("type") == "market" else OrderType.LIMIT,
            quantity=float(order.get("amount") or 0.0),
            filled_qty=filled,
            price=float(order["price"]) if order.get("price") else None,
            avg_px=float(order.get("average") or math.nan),
            ts_event=int(stamp) * _MS if stamp else self.clock(),
        )

    async def _place(self, track: TrackedOrder) -> OrderReport:
        kind = "market" if track.order_type is OrderType.MARKET else "limit"
        params: dict[str, Any] = {"clientOrderId": track.venue_client_id}
        if track.post_only:
            params["postOnly"] = True
        if track.reduce_only:
            params["reduceOnly"] = True
        if track.time_in_force.value in ("IOC", "FOK"):
            params["timeInForce"] = track.time_in_force.value
        order = await self._call(
            "create_order",
            track.symbol,
            kind,
            track.side.value.lower(),
            track.quantity,
            track.price,
            params,
        )
        report = self._report(order)
        if not report.venue_client_id:  # not every venue echoes it
            report = msgspec.structs.replace(report, venue_client_id=track.venue_client_id)
        return report

    async def _cancel_order(self, track: TrackedOrder) -> OrderReport | None:
        try:
            order = await self._call(
                "cancel_order",
                track.venue_order_id or None,
                track.symbol,
                {"clientOrderId": track.venue_client_id},
            )
        except ccxt_async.OrderNotFound as exc:
            raise VenueRejectedError(self.name, "OrderNotFound", str(exc)) from exc
        report = self._report(order)
        return msgspec.structs.replace(report, venue_client_id=track.venue_client_id)

    async def _amend(
        self,
        track: TrackedOrder,
        quantity: float,
        price: float | None,
        trigger_price: float | None,
    ) -> OrderReport:
        if not self._has("editOrder"):
            raise VenueRejectedError(self.name, "NotSupported", f"{self.name} cannot modify orders")
        order = await self._call(
            "edit_order",
            track.venue_order_id,
            track.symbol,
            "limit",
            track.side.value.lower(),
            quantity,
            price if price is not None else track.price,
        )
        report = self._report(order)
        if report.venue_order_id and report.venue_order_id != track.venue_order_id:
            # the venue replaced the order (cancel-replace): follow the new one
            self.rebind(track, report.venue_client_id or track.venue_client_id)
            self._note_venue_order_id(track, report.venue_order_id)
        return report

    async def _query(self, track: TrackedOrder) -> OrderReport | None:
        try:
            order = await self._call(
                "fetch_order",
                track.venue_order_id or None,
                track.symbol,
                {"clientOrderId": track.venue_client_id},
            )
        except ccxt_async.OrderNotFound:
            return None
        report = self._report(order)
        return msgspec.structs.replace(report, venue_client_id=track.venue_client_id)

    async def _order_fills(self, track: TrackedOrder) -> list[FillReport]:
        if not track.venue_order_id:
            report = await self._query(track)
            if report is None:
                return []
            self._note_venue_order_id(track, report.venue_order_id)
        if self._has("fetchOrderTrades"):
            trades = await self._call("fetch_order_trades", track.venue_order_id, track.symbol)
        else:
            trades = await self._call("fetch_my_trades", track.symbol)
        return [
            FillReport(
                venue_client_id=track.venue_client_id,
                venue_order_id=str(t.get("order")),
                symbol=track.symbol,
                trade_id=str(t["id"]),
                side=OrderSide.BUY if t.get("side") == "buy" else OrderSide.SELL,
                last_qty=float(t["amount"]),
                last_px=float(t["price"]),
                commission=float((t.get("fee") or {}).get("cost") or 0.0),
                commission_currency=str((t.get("fee") or {}).get("currency") or ""),
                liquidity_side=LiquiditySide.MAKER
                if t.get("takerOrMaker") == "maker"
                else LiquiditySide.TAKER,
                ts_event=int(t.get("timestamp") or 0) * _MS,
            )
            for t in trades
            if str(t.get("order")) == track.venue_order_id
        ]

    # -- reconciliation queries -----------------------------------------------------------------
    async def open_orders(self) -> list[OrderReport]:
        reports: list[OrderReport] = []
        for symbol in self._instrument_of:
            reports += [self._report(o) for o in await self._call("fetch_open_orders", symbol)]
        return reports

    async def account_state(self) -> AccountState:
        balance = await self._call("fetch_balance")
        totals = balance.get("total") or {}
        used = balance.get("used") or {}
        kinds = {inst.kind for inst in self.instruments.values()}
        return AccountState(
            venue=self.name,
            account_type=AccountType.CASH if kinds == {InstrumentKind.SPOT} else AccountType.MARGIN,
            base_currency="USDT",
            balances={c: (float(v or 0.0), float(used.get(c) or 0.0)) for c, v in totals.items()},
            margin_used=0.0,
            ts_event=self.clock(),
        )

    async def positions(self) -> list[PositionReport]:
        if not self._has("fetchPositions"):
            return []
        rows = await self._call("fetch_positions", list(self._instrument_of))
        return [
            PositionReport(
                instrument_id=self._instrument_of[p["symbol"]],
                quantity=float(p.get("contracts") or 0.0)
                * (-1.0 if p.get("side") == "short" else 1.0),
                entry_price=float(p.get("entryPrice") or 0.0),
                ts_event=int(p.get("timestamp") or 0) * _MS,
            )
            for p in rows
            if p.get("symbol") in self._instrument_of
        ]


def _snake(name: str) -> str:
    """ccxt's camelCase feature names to its snake_case Python methods (watchOHLCV too)."""
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
