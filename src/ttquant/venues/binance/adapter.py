"""Binance spot and USDⓈ-M futures: market data, the user data stream and REST trading."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import msgspec

from ttquant.core.errors import ConfigError
from ttquant.model.account import AccountState
from ttquant.model.data import BarType, format_step
from ttquant.model.enums import OrderType, TimeInForce
from ttquant.model.instruments import Instrument
from ttquant.venues.adapter import AdapterConfig, LiveAdapter, TrackedOrder
from ttquant.venues.binance import messages as m
from ttquant.venues.binance import parse
from ttquant.venues.binance.depth import DepthSync, SyncResult
from ttquant.venues.binance.errors import ORDER_DOES_NOT_EXIST, reject_reason
from ttquant.venues.binance.http import BinanceHttp
from ttquant.venues.book import OrderBook
from ttquant.venues.net.backoff import Backoff
from ttquant.venues.net.errors import VenueRejectedError
from ttquant.venues.net.ws import WsFeed
from ttquant.venues.reports import FillReport, OrderReport, PositionReport, SendRecord

log = logging.getLogger(__name__)

_URLS = {
    "spot": ("https://api.binance.com", "wss://stream.binance.com:9443"),
    "usdm": ("https://fapi.binance.com", "wss://fstream.binance.com"),
}
_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}

_envelope = msgspec.json.Decoder(m.Envelope)
_depth = msgspec.json.Decoder(m.DepthUpdate, strict=False)
_snapshot = msgspec.json.Decoder(m.DepthSnapshot, strict=False)
_book_ticker = msgspec.json.Decoder(m.BookTicker, strict=False)
_trade = msgspec.json.Decoder(m.Trade, strict=False)
_agg_trade = msgspec.json.Decoder(m.AggTrade, strict=False)
_kline = msgspec.json.Decoder(m.Kline, strict=False)
_header = msgspec.json.Decoder(m.EventHeader)
_wrapped = msgspec.json.Decoder(m.Wrapped)
_exec_report = msgspec.json.Decoder(m.ExecutionReport, strict=False)
_order_update = msgspec.json.Decoder(m.OrderTradeUpdate, strict=False)
_account_position = msgspec.json.Decoder(m.AccountPosition, strict=False)
_account_update = msgspec.json.Decoder(m.AccountUpdate, strict=False)
_rest_order = msgspec.json.Decoder(m.RestOrder, strict=False)
_rest_orders = msgspec.json.Decoder(list[m.RestOrder], strict=False)
_rest_trades = msgspec.json.Decoder(list[m.RestTrade], strict=False)
_spot_account = msgspec.json.Decoder(m.SpotAccount, strict=False)
_futures_balances = msgspec.json.Decoder(list[m.FuturesAssetBalance], strict=False)
_position_risk = msgspec.json.Decoder(list[m.PositionRisk], strict=False)
_listen_key = msgspec.json.Decoder(m.ListenKey)
_cancel_replace = msgspec.json.Decoder(m.CancelReplace, strict=False)


class BinanceConfig(AdapterConfig, kw_only=True):
    market: str = "spot"  # "spot" or "usdm" (USDⓈ-M futures)
    rest_url: str = ""  # default: the market's production endpoint
    ws_url: str = ""  # market data and user data base URL
    recv_window_ms: int = 5000
    depth_speed: str = "100ms"  # diff stream cadence: "100ms", "1000ms"; futures also "0ms"
    snapshot_limit: int = 1000
    trade_stream: str = "trade"  # or "aggTrade"
    listen_key_keepalive_s: float = 1800.0
    base_currency: str = "USDT"


class BinanceAdapter(LiveAdapter):
    """One Binance account on one market (spot or USDⓈ-M futures)."""

    def __init__(
        self,
        config: BinanceConfig,
        instruments: list[Instrument],
        *,
        name: str | None = None,
        clock: Callable[[], int] | None = None,
        save_before_send: Callable[[SendRecord], None] | None = None,
    ) -> None:
        if config.market not in _URLS:
            raise ConfigError(f"binance market must be 'spot' or 'usdm', got {config.market!r}")
        if config.trade_stream not in ("trade", "aggTrade"):
            raise ConfigError(
                f"binance trade_stream must be 'trade' or 'aggTrade', got {config.trade_stream!r}"
            )
        kwargs: dict[str, Any] = {"save_before_send": save_before_send}
        if clock is not None:
            kwargs["clock"] = clock
        self.futures = config.market == "usdm"
        default_name = "BINANCEUSDM" if self.futures else "BINANCE"  # ccxt's ids for the two
        super().__init__(name or default_name, config, instruments, **kwargs)
        self.cfg = config
        rest_url, ws_url = _URLS[config.market]
        self.rest_url = config.rest_url or rest_url
        self.ws_url = (config.ws_url or ws_url).rstrip("/")
        self.http = BinanceHttp(
            f"{self.name}-{config.market}",
            self.rest_url,
            api_key=config.api_key,
            api_secret=config.api_secret,
            futures=self.futures,
            recv_window_ms=config.recv_window_ms,
            timeout=config.request_timeout,
            clock=self.clock,
        )
        self._streams: dict[str, Callable[[bytes, int], None]] = {}
        self._depth: dict[str, DepthSync] = {}
        self._snapshots_running: set[str] = set()
        self.book_syncs = 0  # completed (re)syncs of any book, for monitoring and tests
        self._market: WsFeed | None = None
        self._user: WsFeed | None = None
        self._listen_key = ""
        self._keepalive: asyncio.Task[None] | None = None
        self.latest_positions: dict[str, PositionReport] = {}

    def venue_symbol(self, instrument: Instrument) -> str:
        pair = instrument.symbol.partition(":")[0]
        return pair.replace("/", "")

    def unsupported(self, order: Any) -> str | None:
        problem = super().unsupported(order)
        if problem is not None:
            return problem
        if order.time_in_force not in _TIF and order.order_type is not OrderType.MARKET:
            return f"time in force {order.time_in_force.value} is not supported at {self.name}"
        if order.reduce_only and not self.futures:
            return "reduce-only orders exist only on futures"
        return None

    def reject_reason(self, error: VenueRejectedError) -> str:
        try:
            code = int(error.code)
        except ValueError:
            code = 0
        return reject_reason(code, error.message)

    def _backoff(self) -> Backoff:
        return Backoff(self.cfg.backoff_initial, self.cfg.backoff_max)

    # -- connection -----------------------------------------------------------------------------
    async def _connect(self) -> None:
        await self.http.sync_time()
        if not self.cfg.api_key:
            return  # market data only
        first_key = await self._new_listen_key()
        keys = [first_key]

        async def user_url() -> str:
            key = keys.pop() if keys else await self._new_listen_key()
            return f"{self.ws_url}/ws/{key}"

        self._user = WsFeed(
            f"{self.name}-user",
            user_url,
            self._on_user_message,
            on_open=self._on_user_open,
            stale_after=None,
            ping_interval=self.cfg.ping_interval,
            backoff=self._backoff(),
            open_timeout=self.cfg.connect_timeout,
        )
        await self._user.start()
        await self._user.wait_open(self.cfg.connect_timeout)
        self._keepalive = asyncio.get_running_loop().create_task(self._keep_listen_key_alive())

    async def _disconnect(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        if self._user is not None:
            await self._user.stop()
        if self._market is not None:
            await self._market.stop()
        await self.http.aclose()

    def _listen_key_path(self) -> str:
        return self.http.path("listenKey") if self.futures else self.http.path("userDataStream")

    async def _new_listen_key(self) -> str:
        body = await self.http.keyed("POST", self._listen_key_path(), {}, weight=2)
        self._listen_key = _listen_key.decode(body).listen_key
        return self._listen_key

    async def _keep_listen_key_alive(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.listen_key_keepalive_s)
            try:
                params = {"listenKey": self._listen_key}
                await self.http.keyed("PUT", self._listen_key_path(), params, weight=2)
            except Exception as exc:  # expired or unreachable: a new key on a new connection
                log.warning("%s: listenKey keep-alive failed (%s): reconnecting", self.name, exc)
                if self._user is not None:
                    self._user.reconnect()

    async def _on_user_open(self) -> None:
        if self._user is not None and self._user.connects > 1:
            self._spawn(self.resync_orders())  # what happened while the stream was down

    # -- market data ----------------------------------------------------------------------------
    async def subscribe_quotes(self, instrument_id: str) -> None:
        symbol = self.symbol_of(instrument_id)
        await self._subscribe(f"{symbol.lower()}@bookTicker", self._quote_handler(instrument_id))

    async def subscribe_trades(self, instrument_id: str) -> None:
        symbol = self.symbol_of(instrument_id)
        stream = f"{symbol.lower()}@{self.cfg.trade_stream}"
        await self._subscribe(stream, self._trade_handler(instrument_id))

    async def subscribe_bars(self, bar_type: BarType) -> None:
        symbol = self.symbol_of(bar_type.instrument_id)
        interval = format_step(bar_type.step)
        await self._subscribe(f"{symbol.lower()}@kline_{interval}", self._bar_handler(bar_type))

    async def subscribe_book(self, instrument_id: str) -> None:
        symbol = self.symbol_of(instrument_id)
        self._depth[symbol] = DepthSync(OrderBook(instrument_id), self.futures)
        stream = f"{symbol.lower()}@depth@{self.cfg.depth_speed}"
        await self._subscribe(stream, self._depth_handler(symbol))

    def book(self, instrument_id: str) -> OrderBook:
        return self._depth[self.symbol_of(instrument_id)].book

    def depth_sync(self, instrument_id: str) -> DepthSync:
        return self._depth[self.symbol_of(instrument_id)]

    async def _subscribe(self, stream: str, handler: Callable[[bytes, int], None]) -> None:
        self._streams[stream] = handler
        if self._market is None:
            self._market = WsFeed(
                f"{self.name}-market",
                f"{self.ws_url}/stream",
                self._on_market_message,
                on_open=self._on_market_open,
                on_stale=self._feed_stale_changed,
                stale_after=self.cfg.stale_after,
                ping_interval=self.cfg.ping_interval,
                backoff=self._backoff(),
                open_timeout=self.cfg.connect_timeout,
            )
            self.market_feeds.append(self._market)
            await self._market.start()
            await self._market.wait_open(self.cfg.connect_timeout)
        elif self._market.opened.is_set():
            await self._send_subscribe([stream])
            if "@depth" in stream:
                self._start_snapshot(stream.partition("@")[0].upper())

    async def _send_subscribe(self, streams: list[str]) -> None:
        assert self._market is not None
        request = {"method": "SUBSCRIBE", "params": streams, "id": self._market.connects}
        await self._market.send(msgspec.json.encode(request).decode())  # a text frame

    async def _on_market_open(self) -> None:
        """After every (re)connect: resubscribe everything and rebuild every book."""
        if self._streams:
            await self._send_subscribe(list(self._streams))
        for symbol, sync in self._depth.items():
            sync.reset()
            self._start_snapshot(symbol)

    def _on_market_message(self, raw: bytes) -> None:
        ts_init = self.clock()
        env = _envelope.decode(raw)
        if not env.data:
            if env.error is not None:
                log.error("%s: subscription refused: %s", self.name, env.error)
            return
        handler = self._streams.get(env.stream)
        if handler is not None:
            handler(env.data, ts_init)

    def _quote_handler(self, instrument_id: str) -> Callable[[bytes, int], None]:
        def handle(data: bytes, ts_init: int) -> None:
            self._emit_data(parse.quote_tick(_book_ticker.decode(data), instrument_id, ts_init))

        return handle

    def _trade_handler(self, instrument_id: str) -> Callable[[bytes, int], None]:
        decoder = _trade if self.cfg.trade_stream == "trade" else _agg_trade

        def handle(data: bytes, ts_init: int) -> None:
            self._emit_data(parse.trade_tick(decoder.decode(data), instrument_id, ts_init))

        return handle

    def _bar_handler(self, bar_type: BarType) -> Callable[[bytes, int], None]:
        def handle(data: bytes, ts_init: int) -> None:
            bar = parse.closed_bar(_kline.decode(data), bar_type.instrument_id, ts_init)
            if bar is not None:
                self._emit_data(bar)

        return handle

    def _depth_handler(self, symbol: str) -> Callable[[bytes, int], None]:
        def handle(data: bytes, ts_init: int) -> None:
            sync = self._depth[symbol]
            result = sync.on_update(_depth.decode(data))
            if result is SyncResult.APPLIED:
                self._emit_data(sync.book.depth(self.cfg.book_levels, ts_init))
            elif result is SyncResult.GAP:
                log.warning("%s: %s depth gap: resyncing from a snapshot", self.name, symbol)
                self._start_snapshot(symbol)
            elif result is SyncResult.BUFFERED:
                self._start_snapshot(symbol)

        return handle

    def _start_snapshot(self, symbol: str) -> None:
        if symbol not in self._snapshots_running:
            self._snapshots_running.add(symbol)
            self._spawn(self._sync_book(symbol))

    async def _sync_book(self, symbol: str) -> None:
        """Fetch snapshots until the buffered diffs line up with one (Binance's procedure)."""
        sync = self._depth[symbol]
        try:
            delay = 0.05
            while True:
                while not sync.buffer:  # the snapshot must not predate the first buffered diff
                    await asyncio.sleep(0.01)
                weight = 20 if self.futures else 50
                params = {"symbol": symbol, "limit": str(self.cfg.snapshot_limit)}
                try:
                    body = await self.http.public("GET", self.http.path("depth"), params, weight)
                except Exception as exc:
                    log.warning("%s: %s snapshot failed: %s", self.name, symbol, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.cfg.backoff_max)
                    continue
                result = sync.on_snapshot(_snapshot.decode(body))
                if result is SyncResult.SYNCED:
                    self.book_syncs += 1
                    self._emit_data(sync.book.depth(self.cfg.book_levels, self.clock()))
                    return
                await asyncio.sleep(delay)
        finally:
            self._snapshots_running.discard(symbol)

    # -- user data ------------------------------------------------------------------------------
    def _on_user_message(self, raw: bytes) -> None:
        kind = _header.decode(raw).event
        if not kind:
            inner = _wrapped.decode(raw).event
            if inner:
                self._on_user_message(bytes(inner))
            return
        if kind == "executionReport":
            self.apply_report(parse.execution_report(_exec_report.decode(raw)))
        elif kind == "ORDER_TRADE_UPDATE":
            self.apply_report(parse.execution_report(_order_update.decode(raw).order))
        elif kind == "outboundAccountPosition":
            msg = _account_position.decode(raw)
            self._emit(parse.spot_account_state(msg, self.name, self.cfg.base_currency, 0))
        elif kind == "ACCOUNT_UPDATE":
            update = _account_update.decode(raw)
            self._emit(parse.futures_account_state(update, self.name, self.cfg.base_currency, 0))
            for report in parse.position_reports(update, self._instrument_of, 0):
                self.latest_positions[report.instrument_id] = report
        elif kind == "listenKeyExpired" and self._user is not None:
            self._user.reconnect()

    # -- trading --------------------------------------------------------------------------------
    def _fmt_qty(self, track: TrackedOrder, qty: float) -> str:
        return f"{qty:.{self.instruments[track.instrument_id].size_decimals}f}"

    def _fmt_px(self, track: TrackedOrder, px: float) -> str:
        return f"{px:.{self.instruments[track.instrument_id].price_decimals}f}"

    def _order_params(self, track: TrackedOrder, quantity: float, client_id: str) -> dict[str, str]:
        kind = track.order_type
        params = {
            "symbol": track.symbol,
            "side": track.side.value,
            "quantity": self._fmt_qty(track, quantity),
            "newClientOrderId": client_id,
            "newOrderRespType": "RESULT" if self.futures else "FULL",
        }
        if kind is OrderType.MARKET:
            params["type"] = "MARKET"
        elif kind is OrderType.LIMIT:
            if track.post_only and not self.futures:
                params["type"] = "LIMIT_MAKER"
            else:
                params["type"] = "LIMIT"
                params["timeInForce"] = "GTX" if track.post_only else _TIF[track.time_in_force]
        elif kind is OrderType.STOP_MARKET:
            params["type"] = "STOP_MARKET" if self.futures else "STOP_LOSS"
        else:  # STOP_LIMIT
            params["type"] = "STOP" if self.futures else "STOP_LOSS_LIMIT"
            params["timeInForce"] = _TIF[track.time_in_force]
        if track.price is not None and kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            params["price"] = self._fmt_px(track, track.price)
        if track.trigger_price is not None:
            params["stopPrice"] = self._fmt_px(track, track.trigger_price)
        if track.reduce_only:
            params["reduceOnly"] = "true"
        return params

    async def _place(self, track: TrackedOrder) -> OrderReport:
        params = self._order_params(track, track.quantity, track.venue_client_id)
        body = await self.http.signed("POST", self.http.path("order"), params, weight=1, orders=1)
        order = _rest_order.decode(body)
        report = parse.rest_order(order, self.clock())
        for fill in parse.rest_order_fills(order, report.ts_event):
            self.apply_fill(fill, track)
        return report

    async def _cancel_order(self, track: TrackedOrder) -> OrderReport | None:
        params = {"symbol": track.symbol, "origClientOrderId": track.venue_client_id}
        body = await self.http.signed("DELETE", self.http.path("order"), params, weight=1)
        return parse.rest_order(_rest_order.decode(body), self.clock())

    async def cancel_all(self, instrument_id: str) -> list[OrderReport]:
        """Cancel every open order of the instrument at the venue (ours or not)."""
        params = {"symbol": self.symbol_of(instrument_id)}
        path = self.http.path("allOpenOrders" if self.futures else "openOrders")
        body = await self.http.signed("DELETE", path, params, weight=1)
        if self.futures:
            return []  # futures answers {"code": 200, "msg": ...}: the stream reports each
        reports = [parse.rest_order(o, self.clock()) for o in _rest_orders.decode(body)]
        for report in reports:
            self.apply_report(report)
        return reports

    async def _amend(
        self,
        track: TrackedOrder,
        quantity: float,
        price: float | None,
        trigger_price: float | None,
    ) -> OrderReport:
        if track.order_type is not OrderType.LIMIT:
            raise VenueRejectedError(self.name, "UNSUPPORTED", "only limit orders can be modified")
        new_price = price if price is not None else track.price
        if self.futures:
            params = {
                "symbol": track.symbol,
                "origClientOrderId": track.venue_client_id,
                "side": track.side.value,
                "quantity": self._fmt_qty(track, quantity),
                "price": self._fmt_px(track, new_price or 0.0),
            }
            body = await self.http.signed(
                "PUT", self.http.path("order"), params, weight=1, orders=1
            )
            return parse.rest_order(_rest_order.decode(body), self.clock())
        # spot: cancel-replace, the new order carries a new client id saved before sending
        new_id = self.client_ids.next()
        self._save(track, new_id)
        remaining = quantity - track.filled_qty
        saved_price = track.price
        track.price = new_price
        params = self._order_params(track, remaining, new_id)
        track.price = saved_price
        params.pop("newOrderRespType")
        params.update(
            cancelReplaceMode="STOP_ON_FAILURE", cancelOrigClientOrderId=track.venue_client_id
        )
        path = self.http.path("order/cancelReplace")
        body = await self.http.signed("POST", path, params, weight=1, orders=1)
        result = _cancel_replace.decode(body)
        if result.new_order is None:
            raise VenueRejectedError(
                self.name, "REPLACE", f"cancel-replace answered {result.new_order_result}"
            )
        self.rebind(track, new_id)
        return parse.rest_order(result.new_order, self.clock())

    def _save(self, track: TrackedOrder, venue_client_id: str) -> None:
        if self.save_before_send is not None:
            self.save_before_send(
                SendRecord(
                    client_order_id=track.client_order_id,
                    venue_client_id=venue_client_id,
                    strategy_id=track.strategy_id,
                    instrument_id=track.instrument_id,
                    venue=self.name,
                    ts_init=self.clock(),
                )
            )

    async def _query(self, track: TrackedOrder) -> OrderReport | None:
        params = {"symbol": track.symbol, "origClientOrderId": track.venue_client_id}
        try:
            body = await self.http.signed("GET", self.http.path("order"), params, weight=4)
        except VenueRejectedError as exc:
            if exc.code == str(ORDER_DOES_NOT_EXIST):
                return None
            raise
        return parse.rest_order(_rest_order.decode(body), self.clock())

    async def _order_fills(self, track: TrackedOrder) -> list[FillReport]:
        if not track.venue_order_id:
            report = await self._query(track)
            if report is None:
                return []
            self._note_venue_order_id(track, report.venue_order_id)
        params = {"symbol": track.symbol, "orderId": track.venue_order_id}
        path = self.http.path("userTrades" if self.futures else "myTrades")
        body = await self.http.signed("GET", path, params, weight=20)
        return [parse.rest_trade(t, track.venue_client_id) for t in _rest_trades.decode(body)]

    # -- reconciliation queries -----------------------------------------------------------------
    async def open_orders(self) -> list[OrderReport]:
        body = await self.http.signed("GET", self.http.path("openOrders"), {}, weight=80)
        return [parse.rest_order(o, self.clock()) for o in _rest_orders.decode(body)]

    async def account_state(self) -> AccountState:
        now = self.clock()
        if self.futures:
            body = await self.http.signed("GET", self.http.path("balance", "v2"), {}, weight=5)
            balances = _futures_balances.decode(body)
            return parse.futures_account_state(balances, self.name, self.cfg.base_currency, now)
        body = await self.http.signed("GET", self.http.path("account"), {}, weight=20)
        account = _spot_account.decode(body)
        return parse.spot_account_state(account, self.name, self.cfg.base_currency, now)

    async def positions(self) -> list[PositionReport]:
        if not self.futures:
            return []
        body = await self.http.signed("GET", self.http.path("positionRisk", "v2"), {}, weight=5)
        rows = _position_risk.decode(body)
        return parse.position_reports(rows, self._instrument_of, self.clock())
