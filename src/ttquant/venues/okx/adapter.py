"""OKX v5: public and private WebSockets and REST trading."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import msgspec

from ttquant.core.errors import ConfigError, VenueError
from ttquant.model.account import AccountState
from ttquant.model.data import BarType, format_step
from ttquant.model.enums import AccountType, InstrumentKind, OrderType, TimeInForce
from ttquant.model.instruments import Instrument
from ttquant.model.orders import Order
from ttquant.venues.adapter import AdapterConfig, LiveAdapter, TrackedOrder
from ttquant.venues.net.backoff import Backoff
from ttquant.venues.net.errors import VenueRejectedError
from ttquant.venues.net.ws import WsFeed
from ttquant.venues.okx import messages as m
from ttquant.venues.okx import parse
from ttquant.venues.okx.book import BookResult, OkxBookSync
from ttquant.venues.okx.errors import ORDER_NOT_FOUND, reject_reason
from ttquant.venues.okx.http import OkxHttp
from ttquant.venues.okx.signing import login_args
from ttquant.venues.reports import (
    FillReport,
    OrderReport,
    PositionReport,
    ReportStatus,
    SendRecord,
)

log = logging.getLogger(__name__)

_push = msgspec.json.Decoder(m.Push)
_books = msgspec.json.Decoder(list[m.BookData])
_tickers = msgspec.json.Decoder(list[m.Ticker])
_trades = msgspec.json.Decoder(list[m.TradeData])
_candles = msgspec.json.Decoder(list[m.Candle])
_orders = msgspec.json.Decoder(list[m.OrderData])
_fills = msgspec.json.Decoder(list[m.FillData])
_accounts = msgspec.json.Decoder(list[m.AccountData])
_positions = msgspec.json.Decoder(list[m.PositionData])
_BAR_UNITS = {"m": "m", "h": "H", "d": "D", "w": "W"}


class OkxConfig(AdapterConfig, kw_only=True):
    rest_url: str = "https://www.okx.com"
    ws_url: str = "wss://ws.okx.com:8443"  # public, private and business paths are appended
    demo: bool = False  # OKX's demo trading (header x-simulated-trading)
    td_mode: str = "cross"  # trade mode of derivatives; spot always trades "cash"
    book_channel: str = "books"  # 400 levels with checksums; "books5" has no updates to sync
    ping_interval: float = 20.0  # OKX closes a connection silent for 30 s
    base_currency: str = "USDT"


class OkxAdapter(LiveAdapter):
    """One OKX account (unified account, net position mode)."""

    def __init__(
        self,
        config: OkxConfig,
        instruments: list[Instrument],
        *,
        name: str = "OKX",
        clock: Callable[[], int] | None = None,
        save_before_send: Callable[[SendRecord], None] | None = None,
    ) -> None:
        if config.td_mode not in ("cross", "isolated"):
            raise ConfigError(f"okx td_mode must be 'cross' or 'isolated', got {config.td_mode!r}")
        kwargs: dict[str, Any] = {"save_before_send": save_before_send}
        if clock is not None:
            kwargs["clock"] = clock
        super().__init__(name, config, instruments, **kwargs)
        self.cfg = config
        self.http = OkxHttp(
            self.name,
            config.rest_url,
            api_key=config.api_key,
            api_secret=config.api_secret,
            passphrase=config.passphrase,
            demo=config.demo,
            timeout=config.request_timeout,
            clock=self.clock,
        )
        base = config.ws_url.rstrip("/")
        self._public_url = f"{base}/ws/v5/public"
        self._private_url = f"{base}/ws/v5/private"
        self._business_url = f"{base}/ws/v5/business"
        self._public: WsFeed | None = None
        self._business: WsFeed | None = None
        self._private: WsFeed | None = None
        self._args: dict[str, dict[str, str]] = {}  # public subscriptions by key
        self._bar_args: dict[str, BarType] = {}
        self._books: dict[str, OkxBookSync] = {}
        self.book_resyncs = 0
        self._logged_in = asyncio.Event()
        self._login_error = ""
        self.latest_positions: dict[str, PositionReport] = {}

    def venue_symbol(self, instrument: Instrument) -> str:
        pair, _, settle = instrument.symbol.partition(":")
        base_quote = pair.replace("/", "-")
        if instrument.kind is InstrumentKind.SPOT:
            return base_quote
        expiry = settle.partition("-")[2]
        return f"{base_quote}-{expiry}" if expiry else f"{base_quote}-SWAP"

    def unsupported(self, order: Order) -> str | None:
        problem = super().unsupported(order)
        if problem is not None:
            return problem
        if order.is_stop:
            return "stop orders need OKX's algo-order API, which this adapter does not use yet"
        if order.time_in_force not in (TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK):
            return f"time in force {order.time_in_force.value} is not supported at {self.name}"
        return None

    def reject_reason(self, error: VenueRejectedError) -> str:
        return reject_reason(error.code)

    def _backoff(self) -> Backoff:
        return Backoff(self.cfg.backoff_initial, self.cfg.backoff_max)

    def _feed(self, name: str, url: str, handler: Callable[[bytes], None], **kw: Any) -> WsFeed:
        return WsFeed(
            f"{self.name}-{name}",
            url,
            handler,
            ping_interval=self.cfg.ping_interval,
            app_ping=b"ping",
            app_pong=b"pong",
            backoff=self._backoff(),
            open_timeout=self.cfg.connect_timeout,
            **kw,
        )

    # -- connection -----------------------------------------------------------------------------
    async def _connect(self) -> None:
        await self.http.sync_time()
        if not self.cfg.api_key:
            return
        self._private = self._feed(
            "private", self._private_url, self._on_private, on_open=self._login, stale_after=None
        )
        await self._private.start()
        try:
            await asyncio.wait_for(self._logged_in.wait(), self.cfg.connect_timeout)
        except TimeoutError:
            raise VenueError(
                f"{self.name}: private stream not logged in after {self.cfg.connect_timeout:g} s"
            ) from None
        if self._login_error:
            await self._private.stop()
            raise VenueError(f"{self.name}: login refused: {self._login_error}")

    async def _disconnect(self) -> None:
        for feed in (self._private, self._public, self._business):
            if feed is not None:
                await feed.stop()
        await self.http.aclose()

    async def _login(self) -> None:
        assert self._private is not None
        args = login_args(
            self.cfg.api_key, self.cfg.api_secret, self.cfg.passphrase, self.http.now_ns()
        )
        await self._private.send(msgspec.json.encode({"op": "login", "args": [args]}).decode())

    async def _after_login(self) -> None:
        assert self._private is not None
        channels = [
            {"channel": "orders", "instType": "ANY"},
            {"channel": "account"},
            {"channel": "positions", "instType": "ANY"},
        ]
        await self._private.send(
            msgspec.json.encode({"op": "subscribe", "args": channels}).decode()
        )
        if self._private.connects > 1:
            await self.resync_orders()  # what happened while the stream was down

    def _on_private(self, raw: bytes) -> None:
        push = _push.decode(raw)
        if push.event:
            if push.event == "login" and push.code == "0":
                self._login_error = ""
                self._logged_in.set()
                self._spawn(self._after_login())
            elif push.event == "error":
                log.error("%s: private stream error %s: %s", self.name, push.code, push.msg)
                if not self._logged_in.is_set():
                    self._login_error = f"{push.code} {push.msg}"
                    self._logged_in.set()
            return
        if push.arg is None or not push.data:
            return
        channel = push.arg.channel
        if channel == "orders":
            for order in _orders.decode(push.data):
                self.apply_report(parse.order_report(order, with_fill=True))
        elif channel == "account":
            for account in _accounts.decode(push.data):
                self._emit(self._account_state(account))
        elif channel == "positions":
            for pos in _positions.decode(push.data):
                iid = self._instrument_of.get(pos.instId)
                if iid is not None:
                    self.latest_positions[iid] = parse.position_report(pos, iid)

    def _account_state(self, account: m.AccountData) -> AccountState:
        kinds = {inst.kind for inst in self.instruments.values()}
        account_type = AccountType.CASH if kinds == {InstrumentKind.SPOT} else AccountType.MARGIN
        return parse.account_state(account, self.name, account_type, self.cfg.base_currency)

    # -- market data ----------------------------------------------------------------------------
    async def subscribe_quotes(self, instrument_id: str) -> None:
        await self._subscribe({"channel": "tickers", "instId": self.symbol_of(instrument_id)})

    async def subscribe_trades(self, instrument_id: str) -> None:
        await self._subscribe({"channel": "trades", "instId": self.symbol_of(instrument_id)})

    async def subscribe_book(self, instrument_id: str) -> None:
        symbol = self.symbol_of(instrument_id)
        self._books[symbol] = OkxBookSync(instrument_id)
        await self._subscribe({"channel": self.cfg.book_channel, "instId": symbol})

    async def subscribe_bars(self, bar_type: BarType) -> None:
        step = format_step(bar_type.step)
        unit = step[-1]
        if unit not in _BAR_UNITS:
            raise VenueError(f"{self.name}: no candles of {step}")
        channel = f"candle{step[:-1]}{_BAR_UNITS[unit]}"
        symbol = self.symbol_of(bar_type.instrument_id)
        self._bar_args[f"{channel}:{symbol}"] = bar_type
        arg = {"channel": channel, "instId": symbol}
        if self._business is None:
            self._business = self._feed(
                "business",
                self._business_url,
                self._on_public,
                on_open=lambda: self._resubscribe(self._business, list(self._bar_args), False),
                on_stale=self._feed_stale_changed,
                stale_after=max(self.cfg.stale_after, 90.0),  # a candle push per minute at most
            )
            self.market_feeds.append(self._business)
            self._args[f"{channel}:{symbol}"] = arg
            await self._business.start()
            await self._business.wait_open(self.cfg.connect_timeout)
        else:
            self._args[f"{channel}:{symbol}"] = arg
            await self._business.send(_op("subscribe", [arg]))

    def book(self, instrument_id: str) -> Any:
        return self._books[self.symbol_of(instrument_id)].book

    def book_sync(self, instrument_id: str) -> OkxBookSync:
        return self._books[self.symbol_of(instrument_id)]

    async def _subscribe(self, arg: dict[str, str]) -> None:
        key = f"{arg['channel']}:{arg['instId']}"
        self._args[key] = arg
        if self._public is None:
            self._public = self._feed(
                "public",
                self._public_url,
                self._on_public,
                on_open=lambda: self._resubscribe(
                    self._public, [k for k in self._args if k not in self._bar_args], True
                ),
                on_stale=self._feed_stale_changed,
                stale_after=self.cfg.stale_after,
            )
            self.market_feeds.append(self._public)
            await self._public.start()
            await self._public.wait_open(self.cfg.connect_timeout)
        elif self._public.opened.is_set():
            await self._public.send(_op("subscribe", [arg]))

    async def _resubscribe(self, feed: WsFeed | None, keys: list[str], books: bool) -> None:
        """After every (re)connect: books start over from the snapshot the subscribe brings."""
        if books:
            for sync in self._books.values():
                sync.reset()
        if feed is not None and keys:
            await feed.send(_op("subscribe", [self._args[k] for k in keys]))

    def _on_public(self, raw: bytes) -> None:
        ts_init = self.clock()
        push = _push.decode(raw)
        if push.event:
            if push.event == "error":
                log.error("%s: subscription error %s: %s", self.name, push.code, push.msg)
            return
        arg = push.arg
        if arg is None or not push.data:
            return
        channel, symbol = arg.channel, arg.instId
        iid = self._instrument_of.get(symbol)
        if iid is None:
            return
        if channel == self.cfg.book_channel:
            self._on_book(symbol, push.action, push.data, ts_init)
        elif channel == "tickers":
            for ticker in _tickers.decode(push.data):
                self._emit_data(parse.quote_tick(ticker, iid, ts_init))
        elif channel == "trades":
            for trade in _trades.decode(push.data):
                self._emit_data(parse.trade_tick(trade, iid, ts_init))
        elif channel.startswith("candle"):
            bar_type = self._bar_args.get(f"{channel}:{symbol}")
            if bar_type is not None:
                for candle in _candles.decode(push.data):
                    bar = parse.closed_bar(candle, bar_type, ts_init)
                    if bar is not None:
                        self._emit_data(bar)

    def _on_book(self, symbol: str, action: str, data: msgspec.Raw, ts_init: int) -> None:
        sync = self._books.get(symbol)
        if sync is None:
            return
        for book_data in _books.decode(data):
            result = sync.on_message(action, book_data)
            if result is BookResult.APPLIED:
                self._emit_data(sync.book.depth(self.cfg.book_levels, ts_init))
            elif result is BookResult.MISMATCH:
                log.warning(
                    "%s: %s book checksum/sequence broken: resubscribing", self.name, symbol
                )
                self.book_resyncs += 1
                self._spawn(self._resync_book(symbol))
                return

    async def _resync_book(self, symbol: str) -> None:
        if self._public is None:
            return
        arg = self._args[f"{self.cfg.book_channel}:{symbol}"]
        await self._public.send(_op("unsubscribe", [arg]))
        await self._public.send(_op("subscribe", [arg]))

    # -- trading --------------------------------------------------------------------------------
    def _fmt(self, value: float, decimals: int) -> str:
        return f"{value:.{decimals}f}"

    def _td_mode(self, track: TrackedOrder) -> str:
        kind = self.instruments[track.instrument_id].kind
        return "cash" if kind is InstrumentKind.SPOT else self.cfg.td_mode

    async def _place(self, track: TrackedOrder) -> OrderReport:
        inst = self.instruments[track.instrument_id]
        body = {
            "instId": track.symbol,
            "tdMode": self._td_mode(track),
            "clOrdId": track.venue_client_id,
            "side": track.side.value.lower(),
            "sz": self._fmt(track.quantity, inst.size_decimals),
        }
        if track.order_type is OrderType.MARKET:
            body["ordType"] = "market"
            if inst.kind is InstrumentKind.SPOT:
                body["tgtCcy"] = "base_ccy"  # size in the base currency, as everywhere in ttquant
        else:
            body["px"] = self._fmt(track.price or 0.0, inst.price_decimals)
            body["ordType"] = (
                "post_only"
                if track.post_only
                else {TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}.get(
                    track.time_in_force, "limit"
                )
            )
        if track.reduce_only:
            body["reduceOnly"] = "true"
        ack = await self.http.order_op("/api/v5/trade/order", body)
        now = self.clock()
        return OrderReport(
            venue_client_id=track.venue_client_id,
            venue_order_id=ack.ordId,
            symbol=track.symbol,
            status=ReportStatus.NEW,
            side=track.side,
            order_type=track.order_type,
            quantity=track.quantity,
            filled_qty=0.0,
            price=track.price,
            ts_event=now,
        )

    async def _cancel_order(self, track: TrackedOrder) -> OrderReport | None:
        body = {"instId": track.symbol, "clOrdId": track.venue_client_id}
        await self.http.order_op("/api/v5/trade/cancel-order", body)
        return await self._query(track)  # the acknowledgement only says the request was taken

    async def _amend(
        self,
        track: TrackedOrder,
        quantity: float,
        price: float | None,
        trigger_price: float | None,
    ) -> OrderReport:
        inst = self.instruments[track.instrument_id]
        body = {
            "instId": track.symbol,
            "clOrdId": track.venue_client_id,
            "newSz": self._fmt(quantity, inst.size_decimals),
        }
        if price is not None:
            body["newPx"] = self._fmt(price, inst.price_decimals)
        await self.http.order_op("/api/v5/trade/amend-order", body)
        report = await self._query(track)
        if report is None:
            raise VenueRejectedError(
                self.name, ORDER_NOT_FOUND, "order vanished after the amendment"
            )
        return report

    async def _query(self, track: TrackedOrder) -> OrderReport | None:
        params = {"instId": track.symbol, "clOrdId": track.venue_client_id}
        try:
            data = await self.http.request("GET", "/api/v5/trade/order", params)
        except VenueRejectedError as exc:
            if exc.code == ORDER_NOT_FOUND:
                return None
            raise
        orders = _orders.decode(data)
        return parse.order_report(orders[0], with_fill=False) if orders else None

    async def _order_fills(self, track: TrackedOrder) -> list[FillReport]:
        if not track.venue_order_id:
            report = await self._query(track)
            if report is None:
                return []
            self._note_venue_order_id(track, report.venue_order_id)
        params = {"instId": track.symbol, "ordId": track.venue_order_id}
        data = await self.http.request("GET", "/api/v5/trade/fills", params)
        return [parse.fill_report(f) for f in _fills.decode(data)]

    # -- reconciliation queries -----------------------------------------------------------------
    async def open_orders(self) -> list[OrderReport]:
        data = await self.http.request("GET", "/api/v5/trade/orders-pending")
        return [parse.order_report(o, with_fill=False) for o in _orders.decode(data)]

    async def account_state(self) -> AccountState:
        data = await self.http.request("GET", "/api/v5/account/balance")
        accounts = _accounts.decode(data)
        if not accounts:
            raise VenueError(f"{self.name}: account balance answer is empty")
        return self._account_state(accounts[0])

    async def positions(self) -> list[PositionReport]:
        data = await self.http.request("GET", "/api/v5/account/positions")
        return [
            parse.position_report(p, self._instrument_of[p.instId])
            for p in _positions.decode(data)
            if p.instId in self._instrument_of
        ]


def _op(op: str, args: list[dict[str, str]]) -> str:
    return msgspec.json.encode({"op": op, "args": args}).decode()
