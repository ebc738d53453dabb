"""Binance's wire format for the test venue: spot (``/api/v3``) or USDⓈ-M futures (``/fapi``).

Message shapes follow Binance's API documentation (the shapes of the recorded fixtures in
``shared/data/raw_messages/nautilus_fixtures/binance``): REST orders, errors ``{"code","msg"}``,
``executionReport`` / ``ORDER_TRADE_UPDATE``, ``outboundAccountPosition`` / ``ACCOUNT_UPDATE``,
combined-stream frames and SUBSCRIBE requests.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from aiohttp import web

from ttquant.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from ttquant.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
)
from ttquant.testvenue.exchange import Exchange, Rejection, VenueOrder, VenueTrade
from ttquant.testvenue.feeds import FeedRecord, Recording
from ttquant.testvenue.server import Connection, TestVenue
from ttquant.venues.binance.depth import DepthState, DepthSync, SyncResult
from ttquant.venues.binance.http import FUTURES_LIMITS, SPOT_LIMITS
from ttquant.venues.binance.messages import AggTrade, BookTicker, DepthSnapshot, DepthUpdate, Trade
from ttquant.venues.binance.signing import signature
from ttquant.venues.book import OrderBook
from ttquant.venues.net.ratelimit import LimitRule

_depth = msgspec.json.Decoder(DepthUpdate, strict=False)
_snapshot = msgspec.json.Decoder(DepthSnapshot, strict=False)
_ticker = msgspec.json.Decoder(BookTicker, strict=False)
_trade = msgspec.json.Decoder(Trade, strict=False)
_agg = msgspec.json.Decoder(AggTrade, strict=False)
_json = msgspec.json.Encoder()
log = logging.getLogger(__name__)

# the simulated venue's reject reasons as Binance reports them: (spot, futures) (code, message)
_REJECTS: dict[str, tuple[tuple[int, str], tuple[int, str]]] = {
    "INSUFFICIENT_BALANCE": (
        (-2010, "Account has insufficient balance for requested action."),
        (-2019, "Margin is insufficient."),
    ),
    "INSUFFICIENT_MARGIN": (
        (-2010, "Account has insufficient balance for requested action."),
        (-2019, "Margin is insufficient."),
    ),
    "INVALID_QUANTITY": (
        (-1013, "Filter failure: LOT_SIZE"),
        (-4023, "Quantity not increased by step size."),
    ),
    "INVALID_PRICE": (
        (-1013, "Filter failure: PRICE_FILTER"),
        (-4014, "Price not increased by tick size."),
    ),
    "MIN_NOTIONAL": (
        (-1013, "Filter failure: NOTIONAL"),
        (-4164, "Order's notional must be no smaller than 100."),
    ),
    "POST_ONLY_WOULD_TAKE": (
        (-2010, "Order would immediately match and take."),
        (
            -5022,
            "Due to the order could not be executed as maker, the Post Only order will be "
            "rejected.",
        ),
    ),
    "REDUCE_ONLY_WOULD_INCREASE": (
        (-2010, "Reduce only is not supported."),
        (-2022, "ReduceOnly Order is rejected."),
    ),
    "UNKNOWN_INSTRUMENT": ((-1121, "Invalid symbol."), (-1121, "Invalid symbol.")),
    "DUPLICATE_ORDER_ID": (
        (-2010, "Duplicate order sent."),
        (-4116, "ClientOrderId is duplicated."),
    ),
    "NO_PRICE": ((-2010, "Market is closed."), (-2010, "Market is closed.")),
}
_TYPES: dict[str, tuple[OrderType, bool]] = {  # Binance type -> (order type, post-only)
    "MARKET": (OrderType.MARKET, False),
    "LIMIT": (OrderType.LIMIT, False),
    "LIMIT_MAKER": (OrderType.LIMIT, True),
    "STOP_LOSS": (OrderType.STOP_MARKET, False),
    "STOP_MARKET": (OrderType.STOP_MARKET, False),
    "STOP_LOSS_LIMIT": (OrderType.STOP_LIMIT, False),
    "STOP": (OrderType.STOP_LIMIT, False),
}
_STATUS = {
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.REJECTED: "REJECTED",
}


def _num(value: float | None) -> str:
    return f"{value or 0.0:.8f}"


def _error(status: int, code: int, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


class _RefusedError(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


class BinanceDialect:
    """Binance REST + WebSocket for one account on one market."""

    def __init__(
        self,
        exchange: Exchange,
        recording: Recording,
        *,
        market: str = "spot",
        api_key: str,
        api_secret: str,
    ) -> None:
        self.exchange = exchange
        self.futures = market == "usdm"
        # Binance's published limits; tests lower them to watch an adapter stay under them
        self.limits: list[LimitRule] = list(FUTURES_LIMITS if self.futures else SPOT_LIMITS)
        self._usage: dict[str, tuple[int, int]] = {}  # header -> (window index, count)
        self.throttled = 0  # requests refused for exceeding a limit
        self.api_key = api_key
        self.api_secret = api_secret
        self._snapshots = recording.snapshots
        self.books: dict[str, OrderBook] = {}
        self._syncs: dict[str, DepthSync] = {}
        self.on_loop()
        self._listen_keys: set[str] = set()
        self._cancel_ids = itertools.count(1)
        self.venue: TestVenue | None = None
        exchange.listeners.append(self._on_order_event)
        exchange.account_listeners.append(self._on_account_change)

    # -- replay ---------------------------------------------------------------------------------
    def on_loop(self) -> None:
        """(Re)start every book from its recorded snapshot; the first diffs join it on arrival."""
        for symbol, body in self._snapshots.items():
            book = self.books.setdefault(symbol, OrderBook(symbol))
            self._syncs[symbol] = DepthSync(book, self.futures)
            snap = _snapshot.decode(body)
            book.reset(snap.bids, snap.asks, snap.last_update_id)

    def on_record(self, record: FeedRecord) -> None:
        symbol, _, kind = record.channel.partition("@")
        symbol = symbol.upper()
        if kind == "depth":
            sync = self._syncs.get(symbol)
            if sync is None:
                return
            # the venue keeps its book by the clients' own rules, so a gap in the recording
            # itself would be found here rather than blamed on an adapter
            update = _depth.decode(record.payload)
            if sync.state is DepthState.WAITING:
                sync.on_update(update)
                result = sync.on_snapshot(_snapshot.decode(self._snapshots[symbol]))
            else:
                result = sync.on_update(update)
            if result is SyncResult.GAP:
                log.error("%s: the recording has a depth gap at update %d", symbol, update.first_id)
        elif kind == "bookTicker":
            t = _ticker.decode(record.payload)
            self.exchange.on_quote(symbol, t.bid_px, t.ask_px, t.bid_qty, t.ask_qty)
        elif kind in ("trade", "aggTrade"):
            trade = (_trade if kind == "trade" else _agg).decode(record.payload)
            self.exchange.on_trade(symbol, trade.price, trade.qty)

    def is_book_record(self, record: FeedRecord) -> bool:
        return record.channel.endswith("@depth")

    def frame(self, conn: Connection, record: FeedRecord) -> bytes | str | None:
        if not conn.combined:
            return record.payload
        name = conn.subscriptions[record.channel]
        return b'{"stream":"' + name.encode() + b'","data":' + record.payload + b"}"

    # -- rate limits ----------------------------------------------------------------------------
    def middlewares(self) -> list[Any]:
        @web.middleware
        async def limits(request: web.Request, handler: Any) -> web.StreamResponse:
            if not request.path.startswith(("/api/", "/fapi/")):
                return await handler(request)  # type: ignore[no-any-return]
            headers, refused = self._count(request)
            response: web.StreamResponse = refused or await handler(request)
            response.headers.update(headers)
            return response

        return [limits]

    def _count(self, request: web.Request) -> tuple[dict[str, str], web.Response | None]:
        """Count the request against every limit (refused requests count too, as at Binance)."""
        now = time.time()
        is_order = request.method in ("POST", "PUT") and request.path.endswith(
            ("/order", "/order/cancelReplace")
        )
        headers: dict[str, str] = {}
        over: LimitRule | None = None
        for rule in self.limits:
            window = int(now // rule.interval_s)
            index, used = self._usage.get(rule.header, (window, 0))
            if index != window:
                used = 0
            used += (1 if is_order else 0) if rule.counts_orders else 1
            self._usage[rule.header] = (window, used)
            headers[rule.header] = str(used)
            if used > rule.limit and over is None:
                over = rule
        if over is None:
            return headers, None
        self.throttled += 1
        retry = (int(now // over.interval_s) + 1) * over.interval_s - now
        headers["Retry-After"] = str(max(1, round(retry)))
        if over.counts_orders:
            limit = f"{over.limit} orders per {over.interval_s:g} s"
            body = (-1015, f"Too many new orders; current limit is {limit}.")
        else:
            body = (
                -1003,
                f"Too many requests; current limit is {over.limit} per {over.interval_s:g} s.",
            )
        return headers, _error(429, *body)

    # -- routes ---------------------------------------------------------------------------------
    def routes(self, venue: TestVenue) -> list[web.RouteDef]:
        self.venue = venue
        p = "/fapi/v1" if self.futures else "/api/v3"
        routes = [
            web.get(f"{p}/time", self._time),
            web.get(f"{p}/ping", self._ping),
            web.get(f"{p}/depth", self._depth_snapshot),
            web.post(f"{p}/order", self._new_order),
            web.get(f"{p}/order", self._query_order),
            web.delete(f"{p}/order", self._cancel_order),
            web.get(f"{p}/openOrders", self._open_orders),
            web.get("/stream", self._market_ws),
            web.get("/ws", self._market_ws),
            web.get("/ws/{name}", self._named_ws),
        ]
        if self.futures:
            routes += [
                web.post(f"{p}/listenKey", self._listen_key),
                web.put(f"{p}/listenKey", self._listen_key),
                web.delete(f"{p}/listenKey", self._listen_key),
                web.put(f"{p}/order", self._amend_order),
                web.delete(f"{p}/allOpenOrders", self._cancel_all),
                web.get(f"{p}/userTrades", self._my_trades),
                web.get("/fapi/v2/balance", self._futures_balance),
                web.get("/fapi/v2/positionRisk", self._position_risk),
            ]
        else:
            routes += [
                web.post(f"{p}/userDataStream", self._listen_key),
                web.put(f"{p}/userDataStream", self._listen_key),
                web.delete(f"{p}/userDataStream", self._listen_key),
                web.delete(f"{p}/openOrders", self._cancel_all),
                web.post(f"{p}/order/cancelReplace", self._cancel_replace),
                web.get(f"{p}/myTrades", self._my_trades),
                web.get(f"{p}/account", self._spot_account),
                web.get(f"{p}/exchangeInfo", self._exchange_info),
            ]
        return routes

    # -- auth -----------------------------------------------------------------------------------
    def _check_key(self, request: web.Request) -> None:
        if request.headers.get("X-MBX-APIKEY", "") != self.api_key:
            raise _RefusedError(
                _error(401, -2015, "Invalid API-key, IP, or permissions for action.")
            )

    async def _signed(self, request: web.Request) -> dict[str, str]:
        """The request's parameters once key, signature and timestamp check out."""
        self._check_key(request)
        body = await request.text()
        query = request.query_string
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        sig = params.pop("signature", "")
        payload = "".join(
            "&".join(part for part in text.split("&") if not part.startswith("signature="))
            for text in (query, body)
        )
        if not sig or not hmac.compare_digest(signature(self.api_secret, payload), sig):
            raise _RefusedError(_error(400, -1022, "Signature for this request is not valid."))
        try:
            ts = int(params["timestamp"])
            window = int(params.get("recvWindow", "5000"))
        except (KeyError, ValueError):
            raise _RefusedError(
                _error(
                    400,
                    -1102,
                    "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
                )
            ) from None
        now = time.time_ns() // 1_000_000
        if ts > now + 1000 or now - ts > window:
            raise _RefusedError(
                _error(400, -1021, "Timestamp for this request is outside of the recvWindow.")
            )
        return params

    @staticmethod
    def _need(params: dict[str, str], name: str) -> str:
        value = params.get(name, "")
        if not value:
            raise _RefusedError(
                _error(
                    400,
                    -1102,
                    f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
                )
            )
        return value

    # -- public ---------------------------------------------------------------------------------
    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": time.time_ns() // 1_000_000})

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _depth_snapshot(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        book = self.books.get(symbol)
        if book is None:
            return _error(400, -1121, "Invalid symbol.")
        limit = int(request.query.get("limit", "100"))
        body: dict[str, Any] = {
            "lastUpdateId": book.update_id,
            "bids": [[_num(p), _num(q)] for p, q in book.bids.top(limit)],
            "asks": [[_num(p), _num(q)] for p, q in book.asks.top(limit)],
        }
        if self.futures:
            body["E"] = body["T"] = self.exchange.now_ms
        return web.json_response(body)

    async def _exchange_info(self, request: web.Request) -> web.Response:
        symbols = []
        for symbol, inst in self.exchange.instruments.items():
            symbols.append(
                {
                    "symbol": symbol,
                    "status": "TRADING",
                    "baseAsset": inst.base,
                    "quoteAsset": inst.quote,
                    "baseAssetPrecision": 8,
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT"],
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "permissions": ["SPOT"],
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": _num(inst.price_increment),
                            "maxPrice": "1000000.00000000",
                            "tickSize": _num(inst.price_increment),
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": _num(inst.size_increment),
                            "maxQty": "9000.00000000",
                            "stepSize": _num(inst.size_increment),
                        },
                        {
                            "filterType": "NOTIONAL",
                            "minNotional": _num(inst.min_notional),
                            "applyMinToMarket": True,
                            "maxNotional": "9000000.00000000",
                        },
                    ],
                }
            )
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": time.time_ns() // 1_000_000,
                "rateLimits": [],
                "symbols": symbols,
            }
        )

    # -- listen keys ----------------------------------------------------------------------------
    async def _listen_key(self, request: web.Request) -> web.Response:
        try:
            self._check_key(request)
        except _RefusedError as refused:
            return refused.response
        if request.method == "POST":
            key = secrets.token_hex(16)
            self._listen_keys.add(key)
            return web.json_response({"listenKey": key})
        return web.json_response({})

    # -- trading --------------------------------------------------------------------------------
    async def _new_order(self, request: web.Request) -> web.StreamResponse:
        try:
            params = await self._signed(request)
        except _RefusedError as refused:
            return refused.response
        assert self.venue is not None
        return await self.venue.run_order(request, lambda: self._place(params))

    def _place(self, params: dict[str, str]) -> web.Response:
        try:
            symbol = self._need(params, "symbol")
            side = OrderSide(self._need(params, "side"))
            type_text = self._need(params, "type")
            quantity = float(self._need(params, "quantity"))
        except ValueError:
            return _error(400, -1100, "Illegal characters found in a parameter.")
        except _RefusedError as refused:
            return refused.response
        if type_text not in _TYPES:
            return _error(400, -1116, "Invalid orderType.")
        order_type, post_only = _TYPES[type_text]
        tif_text = params.get("timeInForce", "GTC")
        if tif_text == "GTX":
            post_only, tif_text = True, "GTC"
        price = float(params["price"]) if params.get("price") else None
        trigger = float(params["stopPrice"]) if params.get("stopPrice") else None
        client_id = params.get("newClientOrderId") or f"web_{secrets.token_hex(8)}"
        result = self.exchange.place(
            symbol,
            client_id,
            side,
            order_type,
            quantity,
            type_text=type_text,
            price=price,
            trigger_price=trigger,
            time_in_force=TimeInForce(tif_text)
            if order_type is not OrderType.MARKET
            else TimeInForce.GTC,
            post_only=post_only,
            reduce_only=params.get("reduceOnly", "false") == "true",
        )
        if isinstance(result, Rejection):
            return self._reject(result)
        body = self._order_json(result)
        body["transactTime"] = self.exchange.now_ms
        if not self.futures:
            body["fills"] = []  # fills follow on the user data stream
        return web.json_response(body)

    def _reject(self, rejection: Rejection) -> web.Response:
        spot, futures = _REJECTS.get(
            rejection.reason, ((-2010, rejection.message), (-2010, rejection.message))
        )
        code, msg = futures if self.futures else spot
        return _error(400, code, msg)

    async def _find(self, request: web.Request) -> tuple[dict[str, str], VenueOrder | None]:
        params = await self._signed(request)
        client_id = params.get("origClientOrderId", "")
        order_id = int(params.get("orderId", "0") or 0)
        found = self.exchange.find(client_id, order_id)
        if found is not None and found.symbol != params.get("symbol"):
            found = None
        return params, found

    async def _query_order(self, request: web.Request) -> web.Response:
        try:
            _, found = await self._find(request)
        except _RefusedError as refused:
            return refused.response
        if found is None:
            return _error(400, -2013, "Order does not exist.")
        return web.json_response(self._order_json(found))

    async def _cancel_order(self, request: web.Request) -> web.Response:
        try:
            _, found = await self._find(request)
        except _RefusedError as refused:
            return refused.response
        if found is None or self.exchange.cancel(found) is not None:
            return _error(400, -2011, "Unknown order sent.")
        return web.json_response(self._cancel_json(found))

    def _cancel_json(self, found: VenueOrder) -> dict[str, Any]:
        body = self._order_json(found)
        if not self.futures:
            body["origClientOrderId"] = found.client_id
            body["clientOrderId"] = f"cancel{next(self._cancel_ids)}"
        return body

    async def _cancel_all(self, request: web.Request) -> web.Response:
        try:
            params = await self._signed(request)
        except _RefusedError as refused:
            return refused.response
        canceled = []
        for found in self.exchange.open_orders(params.get("symbol", "")):
            if self.exchange.cancel(found) is None:
                canceled.append(self._cancel_json(found))
        if self.futures:
            return web.json_response(
                {"code": 200, "msg": "The operation of cancel all open order is done."}
            )
        return web.json_response(canceled)

    async def _open_orders(self, request: web.Request) -> web.Response:
        try:
            params = await self._signed(request)
        except _RefusedError as refused:
            return refused.response
        orders = self.exchange.open_orders(params.get("symbol", ""))
        return web.json_response([self._order_json(o) for o in orders])

    async def _amend_order(self, request: web.Request) -> web.Response:
        try:
            params, found = await self._find(request)
            quantity = float(self._need(params, "quantity"))
            price = float(self._need(params, "price"))
        except _RefusedError as refused:
            return refused.response
        if found is None:
            return _error(400, -2013, "Order does not exist.")
        refused_reason = self.exchange.amend(found, quantity, price)
        if refused_reason is not None:
            return _error(400, -5027, f"No need to modify the order. ({refused_reason})")
        return web.json_response(self._order_json(found))

    async def _cancel_replace(self, request: web.Request) -> web.Response:
        try:
            params = await self._signed(request)
        except _RefusedError as refused:
            return refused.response
        old = self.exchange.find(
            params.get("cancelOrigClientOrderId", ""), int(params.get("cancelOrderId", "0") or 0)
        )
        if old is None or self.exchange.cancel(old) is not None:
            body = {
                "code": -2022,
                "msg": "Order cancel-replace failed.",
                "data": {
                    "cancelResult": "FAILURE",
                    "newOrderResult": "NOT_ATTEMPTED",
                    "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
                    "newOrderResponse": None,
                },
            }
            return web.json_response(body, status=400)
        placed = self._place(params)
        new_body = msgspec.json.decode(placed.body) if isinstance(placed.body, bytes) else None
        ok = placed.status == 200
        body = {
            "cancelResult": "SUCCESS",
            "newOrderResult": "SUCCESS" if ok else "FAILURE",
            "cancelResponse": self._cancel_json(old),
            "newOrderResponse": new_body if ok else None,
        }
        if not ok:
            return web.json_response(
                {"code": -2021, "msg": "Order cancel-replace partially failed.", "data": body},
                status=409,
            )
        return web.json_response(body)

    async def _my_trades(self, request: web.Request) -> web.Response:
        try:
            params = await self._signed(request)
        except _RefusedError as refused:
            return refused.response
        symbol = params.get("symbol", "")
        order_id = int(params.get("orderId", "0") or 0)
        trades = [
            t
            for t in self.exchange.trades
            if t.symbol == symbol and (not order_id or t.order_id == order_id)
        ]
        return web.json_response([self._trade_json(t) for t in trades])

    async def _spot_account(self, request: web.Request) -> web.Response:
        try:
            await self._signed(request)
        except _RefusedError as refused:
            return refused.response
        balances = [
            {"asset": a, "free": _num(v), "locked": _num(0.0)}
            for a, v in self.exchange.balances().items()
        ]
        return web.json_response({"accountType": "SPOT", "canTrade": True, "balances": balances})

    async def _futures_balance(self, request: web.Request) -> web.Response:
        try:
            await self._signed(request)
        except _RefusedError as refused:
            return refused.response
        rows = [
            {
                "accountAlias": "test",
                "asset": a,
                "balance": _num(v),
                "availableBalance": _num(v),
                "updateTime": self.exchange.now_ms,
            }
            for a, v in self.exchange.balances().items()
        ]
        return web.json_response(rows)

    async def _position_risk(self, request: web.Request) -> web.Response:
        try:
            await self._signed(request)
        except _RefusedError as refused:
            return refused.response
        rows = []
        for symbol in self.exchange.instruments:
            qty, entry = self.exchange.position(symbol)
            rows.append(
                {
                    "symbol": symbol,
                    "positionAmt": _num(qty),
                    "entryPrice": _num(entry),
                    "positionSide": "BOTH",
                    "marginType": "cross",
                    "updateTime": self.exchange.now_ms,
                }
            )
        return web.json_response(rows)

    # -- JSON shapes ----------------------------------------------------------------------------
    def _status(self, found: VenueOrder) -> str:
        return _STATUS.get(found.order.status, "NEW")

    def _order_json(self, found: VenueOrder) -> dict[str, Any]:
        order = found.order
        body: dict[str, Any] = {
            "symbol": found.symbol,
            "orderId": found.order_id,
            "orderListId": -1,
            "clientOrderId": found.client_id,
            "price": _num(order.price),
            "origQty": _num(order.quantity),
            "executedQty": _num(order.filled_qty),
            "status": self._status(found),
            "timeInForce": order.time_in_force.value,
            "type": found.type_text,
            "side": order.side.value,
            "stopPrice": _num(order.trigger_price),
            "time": found.created_ms,
            "updateTime": found.updated_ms,
        }
        if self.futures:
            body["avgPrice"] = _num(order.avg_px if order.filled_qty else 0.0)
            body["cumQuote"] = _num(found.cum_quote)
            body["reduceOnly"] = order.reduce_only
            body["positionSide"] = "BOTH"
            body["origType"] = found.type_text
        else:
            body["cummulativeQuoteQty"] = _num(found.cum_quote)
            body["isWorking"] = not order.is_closed
        return body

    def _trade_json(self, t: VenueTrade) -> dict[str, Any]:
        body: dict[str, Any] = {
            "symbol": t.symbol,
            "id": t.trade_id,
            "orderId": t.order_id,
            "price": _num(t.price),
            "qty": _num(t.qty),
            "quoteQty": _num(t.price * t.qty),
            "commission": _num(t.commission),
            "commissionAsset": t.commission_asset,
            "time": t.time_ms,
        }
        if self.futures:
            body.update(
                side=t.side.value, buyer=t.side is OrderSide.BUY, maker=t.is_maker, realizedPnl="0"
            )
        else:
            body.update(
                orderListId=-1,
                isBuyer=t.side is OrderSide.BUY,
                isMaker=t.is_maker,
                isBestMatch=True,
            )
        return body

    # -- user data pushes -----------------------------------------------------------------------
    def _on_order_event(self, found: VenueOrder, event: OrderEvent) -> None:
        if self.venue is None:
            return
        if isinstance(event, OrderAccepted):
            exec_type, status = "NEW", "NEW"
        elif isinstance(event, OrderFilled):
            exec_type, status = "TRADE", self._status(found)
        elif isinstance(event, OrderCanceled):
            # Binance ends the unfilled rest of a market or IOC/FOK order as EXPIRED
            taker_only = (
                found.order.order_type is OrderType.MARKET
                or found.order.time_in_force
                in (
                    TimeInForce.IOC,
                    TimeInForce.FOK,
                )
            )
            exec_type = status = "EXPIRED" if taker_only else "CANCELED"
        elif isinstance(event, OrderExpired):
            exec_type, status = "EXPIRED", "EXPIRED"
        elif isinstance(event, OrderRejected):
            exec_type, status = "REJECTED", "REJECTED"
        elif isinstance(event, OrderUpdated) and self.futures:
            exec_type, status = "AMENDMENT", self._status(found)
        else:
            return
        fill = event if isinstance(event, OrderFilled) else None
        self.venue.push_user(_json.encode(self._exec_json(found, exec_type, status, fill)))

    def _exec_json(
        self, found: VenueOrder, exec_type: str, status: str, fill: OrderFilled | None
    ) -> dict[str, Any]:
        order = found.order
        now = self.exchange.now_ms
        body: dict[str, Any] = {
            "s": found.symbol,
            "c": found.client_id,
            "S": order.side.value,
            "o": found.type_text,
            "f": order.time_in_force.value,
            "q": _num(order.quantity),
            "p": _num(order.price),
            "x": exec_type,
            "X": status,
            "i": found.order_id,
            "l": _num(fill.last_qty if fill else 0.0),
            "z": _num(order.filled_qty),
            "L": _num(fill.last_px if fill else 0.0),
            "n": _num(fill.commission if fill else 0.0),
            "N": fill.commission_currency if fill else None,
            "T": now,
            "t": int(fill.trade_id) if fill else -1,
            "m": fill is not None and fill.liquidity_side.value == "MAKER",
        }
        if self.futures:
            body.update(
                ap=_num(order.avg_px if order.filled_qty else 0.0),
                sp=_num(order.trigger_price),
                ps="BOTH",
                R=order.reduce_only,
                ot=found.type_text,
                rp="0",
            )
            return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": now, "o": body}
        body.update(
            e="executionReport",
            E=now,
            P=_num(order.trigger_price),
            C="",
            r="NONE",
            w=not order.is_closed,
            O=found.created_ms,
            Z=_num(found.cum_quote),
            g=-1,
        )
        if exec_type == "CANCELED":
            body["C"], body["c"] = found.client_id, f"cancel{next(self._cancel_ids)}"
        return body

    def _on_account_change(self) -> None:
        if self.venue is None:
            return
        now = self.exchange.now_ms
        balances = self.exchange.balances()
        if self.futures:
            positions = []
            for symbol in self.exchange.instruments:
                qty, entry = self.exchange.position(symbol)
                positions.append(
                    {
                        "s": symbol,
                        "pa": _num(qty),
                        "ep": _num(entry),
                        "cr": "0",
                        "up": "0",
                        "mt": "cross",
                        "iw": "0",
                        "ps": "BOTH",
                    }
                )
            message: dict[str, Any] = {
                "e": "ACCOUNT_UPDATE",
                "E": now,
                "T": now,
                "a": {
                    "m": "ORDER",
                    "B": [
                        {"a": a, "wb": _num(v), "cw": _num(v), "bc": "0"}
                        for a, v in balances.items()
                    ],
                    "P": positions,
                },
            }
        else:
            message = {
                "e": "outboundAccountPosition",
                "E": now,
                "u": now,
                "B": [{"a": a, "f": _num(v), "l": _num(0.0)} for a, v in balances.items()],
            }
        self.venue.push_user(_json.encode(message))

    # -- WebSockets -----------------------------------------------------------------------------
    async def _market_ws(self, request: web.Request) -> web.WebSocketResponse:
        assert self.venue is not None
        combined = request.path == "/stream"
        names = [s for s in request.query.get("streams", "").split("/") if s]

        def setup(conn: Connection) -> None:
            conn.combined = combined
            for name in names:
                conn.subscriptions[_channel(name)] = name

        return await self.venue.serve_ws(request, "market", self._on_market_text, setup)

    async def _named_ws(self, request: web.Request) -> web.WebSocketResponse:
        assert self.venue is not None
        name = request.match_info["name"]
        if name in self._listen_keys:

            def user(conn: Connection) -> None:
                conn.authed = True

            return await self.venue.serve_ws(request, "user", _ignore, user)

        def single(conn: Connection) -> None:
            conn.combined = False
            conn.subscriptions[_channel(name)] = name

        return await self.venue.serve_ws(request, "market", self._on_market_text, single)

    async def _on_market_text(self, conn: Connection, text: str) -> None:
        try:
            request = msgspec.json.decode(text)
            method, params, rid = request["method"], request.get("params", []), request.get("id")
        except (msgspec.DecodeError, KeyError, TypeError):
            conn.push(_json.encode({"error": {"code": 2, "msg": "Invalid request"}, "id": None}))
            return
        if method == "SUBSCRIBE":
            for name in params:
                conn.subscriptions[_channel(name)] = name
            conn.push(_json.encode({"result": None, "id": rid}))
        elif method == "UNSUBSCRIBE":
            for name in params:
                conn.subscriptions.pop(_channel(name), None)
            conn.push(_json.encode({"result": None, "id": rid}))
        elif method == "LIST_SUBSCRIPTIONS":
            conn.push(_json.encode({"result": list(conn.subscriptions.values()), "id": rid}))
        else:
            conn.push(
                _json.encode({"error": {"code": 1, "msg": f"Unknown method {method}"}, "id": rid})
            )


def _channel(stream: str) -> str:
    symbol, _, kind = stream.partition("@")
    return f"{symbol.lower()}@{kind.split('@')[0]}"


async def _ignore(conn: Connection, text: str) -> None:
    return None
