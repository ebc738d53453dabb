"""OKX v5's wire format for the test venue.

REST answers use OKX's envelope ``{"code", "msg", "data": [...]}`` with per-order ``sCode``;
authentication uses the ``OK-ACCESS-*`` headers; the public WebSocket replays the recorded
``tickers``/``trades``/``books`` pushes byte for byte and answers a book subscription with a
snapshot of the venue's own book (checksummed as OKX does); the private WebSocket needs a
signed login and pushes ``orders`` and ``account``.
"""

from __future__ import annotations

import hmac
import itertools
import time
from datetime import datetime
from typing import Any

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
from ttquant.testvenue.feeds import FeedRecord
from ttquant.testvenue.server import Connection, TestVenue
from ttquant.venues.okx.book import OkxBookSync, checksum
from ttquant.venues.okx.messages import BookData, Push, Ticker, TradeData
from ttquant.venues.okx.signing import sign

_push = msgspec.json.Decoder(Push)
_books = msgspec.json.Decoder(list[BookData])
_tickers = msgspec.json.Decoder(list[Ticker])
_trades = msgspec.json.Decoder(list[TradeData])
_json = msgspec.json.Encoder()
_SNAPSHOT_LEVELS = 400

_REJECTS = {  # the simulated venue's reasons as OKX's sCode and sMsg
    "INSUFFICIENT_BALANCE": ("51008", "Order failed. Insufficient balance in account."),
    "INSUFFICIENT_MARGIN": ("51008", "Order failed. Insufficient margin in account."),
    "INVALID_QUANTITY": ("51121", "Order quantity must be a multiple of the lot size."),
    "INVALID_PRICE": ("51006", "Order price is not within the price limit."),
    "MIN_NOTIONAL": ("51020", "Your order should meet or exceed the minimum order amount."),
    "UNKNOWN_INSTRUMENT": ("51001", "Instrument ID does not exist."),
    "DUPLICATE_ORDER_ID": ("51016", "Duplicated clOrdId."),
}
_STATE = {
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "canceled",
    OrderStatus.REJECTED: "canceled",
}
_ORD_TYPES = {"market", "limit", "post_only", "ioc", "fok"}


def _ok(data: list[dict[str, Any]]) -> web.Response:
    return web.json_response({"code": "0", "msg": "", "data": data})


def _fail(code: str, msg: str, status: int = 200) -> web.Response:
    return web.json_response({"code": code, "msg": msg, "data": []}, status=status)


def _order_fail(code: str, msg: str, client_id: str) -> web.Response:
    item = {"clOrdId": client_id, "ordId": "", "tag": "", "sCode": code, "sMsg": msg}
    return web.json_response({"code": "1", "msg": "All operations failed", "data": [item]})


def _n(value: float | None) -> str:
    return "" if value is None else f"{value:.10g}"


class _RefusedError(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


class OkxDialect:
    """OKX v5 REST + WebSocket for one account."""

    def __init__(
        self, exchange: Exchange, *, api_key: str, api_secret: str, passphrase: str
    ) -> None:
        self.exchange = exchange
        self.api_key = api_key
        self.api_secret = api_secret
        self.passphrase = passphrase
        self.books: dict[str, OkxBookSync] = {}
        self.venue: TestVenue | None = None
        self._post_only_ids = itertools.count(9_000_000_001)
        exchange.listeners.append(self._on_order_event)
        exchange.account_listeners.append(self._on_account_change)

    # -- replay ---------------------------------------------------------------------------------
    def on_loop(self) -> None:
        """The recording starts over with its snapshots, which reset the books as they pass."""

    def on_record(self, record: FeedRecord) -> None:
        channel, _, inst_id = record.channel.partition(":")
        if channel == "books":
            push = _push.decode(record.payload)
            sync = self.books.setdefault(inst_id, OkxBookSync(inst_id))
            for data in _books.decode(push.data):
                sync.on_message(push.action, data)  # verifies the recorded checksum as it goes
        elif channel == "tickers":
            for t in _tickers.decode(_push.decode(record.payload).data):
                if t.bidPx and t.askPx:
                    self.exchange.on_quote(
                        inst_id, float(t.bidPx), float(t.askPx), float(t.bidSz), float(t.askSz)
                    )
        elif channel == "trades":
            for trade in _trades.decode(_push.decode(record.payload).data):
                self.exchange.on_trade(inst_id, float(trade.px), float(trade.sz))

    def is_book_record(self, record: FeedRecord) -> bool:
        return record.channel.startswith("books:")

    def frame(self, conn: Connection, record: FeedRecord) -> bytes | str | None:
        return record.payload

    def book_snapshot(self, inst_id: str) -> bytes:
        """The venue's current book as an OKX snapshot push, checksummed."""
        book = self.books[inst_id].book
        assert book.bids.texts is not None and book.asks.texts is not None
        bids = [[*book.bids.texts[p], "0", "1"] for p in book.bids.prices(_SNAPSHOT_LEVELS)]
        asks = [[*book.asks.texts[p], "0", "1"] for p in book.asks.prices(_SNAPSHOT_LEVELS)]
        data = {
            "asks": asks,
            "bids": bids,
            "ts": str(self.exchange.now_ms),
            "checksum": checksum(book),
        }
        return _json.encode(
            {"arg": {"channel": "books", "instId": inst_id}, "action": "snapshot", "data": [data]}
        )

    # -- routes ---------------------------------------------------------------------------------
    def middlewares(self) -> list[Any]:
        return []

    def routes(self, venue: TestVenue) -> list[web.RouteDef]:
        self.venue = venue
        return [
            web.get("/api/v5/public/time", self._time),
            web.post("/api/v5/trade/order", self._place_order),
            web.post("/api/v5/trade/cancel-order", self._cancel_order),
            web.post("/api/v5/trade/amend-order", self._amend_order),
            web.get("/api/v5/trade/order", self._query_order),
            web.get("/api/v5/trade/orders-pending", self._pending),
            web.get("/api/v5/trade/fills", self._fills),
            web.get("/api/v5/account/balance", self._balance),
            web.get("/api/v5/account/positions", self._positions),
            web.get("/ws/v5/public", self._public_ws),
            web.get("/ws/v5/private", self._private_ws),
        ]

    async def _auth(self, request: web.Request) -> dict[str, Any]:
        """The JSON body (or query) of a request whose OK-ACCESS headers check out."""
        h = request.headers
        if h.get("OK-ACCESS-KEY", "") != self.api_key:
            raise _RefusedError(_fail("50111", "Invalid OK-ACCESS-KEY", 401))
        if h.get("OK-ACCESS-PASSPHRASE", "") != self.passphrase:
            raise _RefusedError(_fail("50105", "Invalid OK-ACCESS-PASSPHRASE", 401))
        stamp = h.get("OK-ACCESS-TIMESTAMP", "")
        try:
            sent = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise _RefusedError(_fail("50112", "Invalid OK-ACCESS-TIMESTAMP", 401)) from None
        if abs(time.time() - sent) > 30:
            raise _RefusedError(_fail("50102", "Timestamp request expired", 401))
        body = await request.text()
        path = request.path_qs
        if not hmac.compare_digest(
            sign(self.api_secret, stamp, request.method, path, body), h.get("OK-ACCESS-SIGN", "")
        ):
            raise _RefusedError(_fail("50113", "Invalid Sign", 401))
        if request.method == "GET":
            return dict(request.query)
        try:
            parsed = msgspec.json.decode(body) if body else {}
        except msgspec.DecodeError:
            raise _RefusedError(_fail("50002", "Json data format error")) from None
        if not isinstance(parsed, dict):
            raise _RefusedError(_fail("50002", "Json data format error"))
        return parsed

    async def _time(self, request: web.Request) -> web.Response:
        return _ok([{"ts": str(time.time_ns() // 1_000_000)}])

    # -- trading --------------------------------------------------------------------------------
    async def _place_order(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await self._auth(request)
        except _RefusedError as refused:
            return refused.response
        assert self.venue is not None
        return await self.venue.run_order(request, lambda: self._place(body))

    def _place(self, body: dict[str, Any]) -> web.Response:
        client_id = str(body.get("clOrdId", ""))
        ord_type = str(body.get("ordType", ""))
        try:
            inst_id = str(body["instId"])
            side = OrderSide(str(body["side"]).upper())
            quantity = float(body["sz"])
            price = float(body["px"]) if ord_type != "market" else None
        except (KeyError, ValueError):
            return _order_fail("51000", "Parameter error", client_id)
        if ord_type not in _ORD_TYPES:
            return _order_fail("51000", "Parameter ordType error", client_id)
        tif = {"ioc": TimeInForce.IOC, "fok": TimeInForce.FOK}.get(ord_type, TimeInForce.GTC)
        result = self.exchange.place(
            inst_id,
            client_id or f"okx{time.time_ns()}",
            side,
            OrderType.MARKET if ord_type == "market" else OrderType.LIMIT,
            quantity,
            type_text=ord_type,
            price=price,
            time_in_force=tif,
            post_only=ord_type == "post_only",
            reduce_only=str(body.get("reduceOnly", "false")) == "true",
        )
        if isinstance(result, Rejection):
            if result.reason == "POST_ONLY_WOULD_TAKE":
                return self._post_only_canceled(body, client_id)
            code, msg = _REJECTS.get(result.reason, ("51000", result.message))
            return _order_fail(code, msg, client_id)
        item = {
            "clOrdId": result.client_id,
            "ordId": str(result.order_id),
            "tag": "",
            "sCode": "0",
            "sMsg": "Order placed",
        }
        return _ok([item])

    def _post_only_canceled(self, body: dict[str, Any], client_id: str) -> web.Response:
        """OKX accepts a post-only order that would take, then cancels it (cancelSource 31)."""
        ord_id = str(next(self._post_only_ids))
        now = str(self.exchange.now_ms)
        pushed = {
            "instId": body["instId"],
            "ordId": ord_id,
            "clOrdId": client_id,
            "side": body["side"],
            "ordType": "post_only",
            "state": "canceled",
            "sz": body["sz"],
            "px": body.get("px", ""),
            "accFillSz": "0",
            "avgPx": "",
            "cancelSource": "31",
            "uTime": now,
            "cTime": now,
        }
        assert self.venue is not None
        self.venue.push_user(
            _json.encode({"arg": {"channel": "orders", "instType": "ANY"}, "data": [pushed]})
        )
        return _ok(
            [
                {
                    "clOrdId": client_id,
                    "ordId": ord_id,
                    "tag": "",
                    "sCode": "0",
                    "sMsg": "Order placed",
                }
            ]
        )

    def _lookup(self, params: dict[str, Any]) -> VenueOrder | None:
        found = self.exchange.find(str(params.get("clOrdId", "")), int(params.get("ordId", 0) or 0))
        if found is not None and found.symbol != params.get("instId"):
            return None
        return found

    async def _cancel_order(self, request: web.Request) -> web.Response:
        try:
            body = await self._auth(request)
        except _RefusedError as refused:
            return refused.response
        found = self._lookup(body)
        client_id = str(body.get("clOrdId", ""))
        if found is None:
            return _order_fail(
                "51400", "Order cancellation failed as the order does not exist.", client_id
            )
        if found.order.status is OrderStatus.FILLED:
            return _order_fail(
                "51402", "Order cancellation failed as the order has been completed.", client_id
            )
        if self.exchange.cancel(found) is not None:
            return _order_fail(
                "51401", "Order cancellation failed as the order has been canceled.", client_id
            )
        return _ok(
            [{"clOrdId": found.client_id, "ordId": str(found.order_id), "sCode": "0", "sMsg": ""}]
        )

    async def _amend_order(self, request: web.Request) -> web.Response:
        try:
            body = await self._auth(request)
        except _RefusedError as refused:
            return refused.response
        found = self._lookup(body)
        client_id = str(body.get("clOrdId", ""))
        if found is None:
            return _order_fail(
                "51503", "Order modification failed as the order does not exist.", client_id
            )
        try:
            quantity = float(body["newSz"]) if body.get("newSz") else found.order.quantity
            price = float(body["newPx"]) if body.get("newPx") else None
        except ValueError:
            return _order_fail("51000", "Parameter error", client_id)
        refused_reason = self.exchange.amend(found, quantity, price)
        if refused_reason is not None:
            return _order_fail("51509", f"Modification failed: {refused_reason}", client_id)
        return _ok(
            [
                {
                    "clOrdId": found.client_id,
                    "ordId": str(found.order_id),
                    "reqId": "",
                    "sCode": "0",
                    "sMsg": "",
                }
            ]
        )

    async def _query_order(self, request: web.Request) -> web.Response:
        try:
            params = await self._auth(request)
        except _RefusedError as refused:
            return refused.response
        found = self._lookup(params)
        if found is None:
            return _fail("51603", "Order does not exist")
        return _ok([self._order_json(found, None)])

    async def _pending(self, request: web.Request) -> web.Response:
        try:
            params = await self._auth(request)
        except _RefusedError as refused:
            return refused.response
        orders = self.exchange.open_orders(str(params.get("instId", "")))
        return _ok([self._order_json(o, None) for o in orders])

    async def _fills(self, request: web.Request) -> web.Response:
        try:
            params = await self._auth(request)
        except _RefusedError as refused:
            return refused.response
        inst_id = str(params.get("instId", ""))
        ord_id = int(params.get("ordId", 0) or 0)
        trades = [
            t
            for t in self.exchange.trades
            if (not inst_id or t.symbol == inst_id) and (not ord_id or t.order_id == ord_id)
        ]
        return _ok([self._fill_json(t) for t in reversed(trades)])  # newest first, as OKX

    async def _balance(self, request: web.Request) -> web.Response:
        try:
            await self._auth(request)
        except _RefusedError as refused:
            return refused.response
        return _ok([self._account_json()])

    async def _positions(self, request: web.Request) -> web.Response:
        try:
            await self._auth(request)
        except _RefusedError as refused:
            return refused.response
        return _ok([])  # spot only: no positions

    # -- JSON shapes ----------------------------------------------------------------------------
    def _order_json(self, found: VenueOrder, fill: OrderFilled | None) -> dict[str, Any]:
        order = found.order
        body: dict[str, Any] = {
            "instType": "SPOT",
            "instId": found.symbol,
            "ordId": str(found.order_id),
            "clOrdId": found.client_id,
            "px": _n(order.price),
            "sz": _n(order.quantity),
            "side": order.side.value.lower(),
            "ordType": found.type_text,
            "tdMode": "cash",
            "state": _STATE.get(order.status, "live"),
            "accFillSz": _n(order.filled_qty),
            "avgPx": _n(order.avg_px) if order.filled_qty else "",
            "fillPx": "",
            "fillSz": "0",
            "tradeId": "",
            "fillFee": "0",
            "fillFeeCcy": "",
            "feeCcy": "",
            "execType": "",
            "cancelSource": "",
            "uTime": str(found.updated_ms),
            "cTime": str(found.created_ms),
        }
        if fill is not None:
            body.update(
                fillPx=_n(fill.last_px),
                fillSz=_n(fill.last_qty),
                tradeId=fill.trade_id,
                fillFee=_n(-fill.commission),
                fillFeeCcy=fill.commission_currency,
                feeCcy=fill.commission_currency,
                execType="M" if fill.liquidity_side.value == "MAKER" else "T",
                fillTime=str(self.exchange.now_ms),
            )
        return body

    def _fill_json(self, t: VenueTrade) -> dict[str, Any]:
        return {
            "instType": "SPOT",
            "instId": t.symbol,
            "tradeId": str(t.trade_id),
            "ordId": str(t.order_id),
            "clOrdId": t.client_id,
            "billId": str(t.trade_id),
            "fillPx": _n(t.price),
            "fillSz": _n(t.qty),
            "side": t.side.value.lower(),
            "execType": "M" if t.is_maker else "T",
            "fee": _n(-t.commission),
            "feeCcy": t.commission_asset,
            "ts": str(t.time_ms),
        }

    def _account_json(self) -> dict[str, Any]:
        details = [
            {
                "ccy": ccy,
                "cashBal": _n(v),
                "availBal": _n(v),
                "frozenBal": "0",
                "eq": _n(v),
                "uTime": str(self.exchange.now_ms),
            }
            for ccy, v in self.exchange.balances().items()
        ]
        return {"details": details, "uTime": str(self.exchange.now_ms), "totalEq": ""}

    # -- private pushes -------------------------------------------------------------------------
    def _on_order_event(self, found: VenueOrder, event: OrderEvent) -> None:
        if self.venue is None or not isinstance(
            event,
            OrderAccepted
            | OrderFilled
            | OrderCanceled
            | OrderExpired
            | OrderRejected
            | OrderUpdated,
        ):
            return
        fill = event if isinstance(event, OrderFilled) else None
        message = {
            "arg": {"channel": "orders", "instType": "ANY"},
            "data": [self._order_json(found, fill)],
        }
        self.venue.push_user(_json.encode(message))

    def _on_account_change(self) -> None:
        if self.venue is not None:
            self.venue.push_user(
                _json.encode({"arg": {"channel": "account"}, "data": [self._account_json()]})
            )

    # -- WebSockets -----------------------------------------------------------------------------
    async def _public_ws(self, request: web.Request) -> web.WebSocketResponse:
        assert self.venue is not None
        return await self.venue.serve_ws(request, "market", self._on_public_text)

    async def _private_ws(self, request: web.Request) -> web.WebSocketResponse:
        assert self.venue is not None
        return await self.venue.serve_ws(request, "user", self._on_private_text)

    async def _on_public_text(self, conn: Connection, text: str) -> None:
        op, args = _parse_op(text)
        if op not in ("subscribe", "unsubscribe"):
            conn.push(
                _json.encode({"event": "error", "code": "60012", "msg": f"Illegal request: {text}"})
            )
            return
        for arg in args:
            key = f"{arg.get('channel', '')}:{arg.get('instId', '')}"
            if op == "subscribe":
                conn.subscriptions[key] = key
                conn.push(_json.encode({"event": "subscribe", "arg": arg, "connId": "test"}))
                if (
                    arg.get("channel") == "books"
                    and arg.get("instId") in self.books
                    and not self._stalled()
                ):
                    conn.push(self.book_snapshot(str(arg["instId"])))
            else:
                conn.subscriptions.pop(key, None)
                conn.push(_json.encode({"event": "unsubscribe", "arg": arg, "connId": "test"}))

    def _stalled(self) -> bool:
        return self.venue is not None and self.venue.stalled

    async def _on_private_text(self, conn: Connection, text: str) -> None:
        op, args = _parse_op(text)
        if op == "login":
            login = args[0] if args else {}
            stamp = str(login.get("timestamp", ""))
            expected = sign(self.api_secret, stamp, "GET", "/users/self/verify")
            fresh = stamp.isdigit() and abs(time.time() - int(stamp)) <= 30
            ok = (
                login.get("apiKey") == self.api_key
                and login.get("passphrase") == self.passphrase
                and fresh
                and hmac.compare_digest(expected, str(login.get("sign", "")))
            )
            if ok:
                conn.authed = True
                conn.push(
                    _json.encode({"event": "login", "code": "0", "msg": "", "connId": "test"})
                )
            else:
                conn.push(
                    _json.encode(
                        {
                            "event": "error",
                            "code": "60009",
                            "msg": "Login failed.",
                            "connId": "test",
                        }
                    )
                )
            return
        if not conn.authed:
            conn.push(
                _json.encode(
                    {"event": "error", "code": "60011", "msg": "Please log in", "connId": "test"}
                )
            )
            return
        if op == "subscribe":
            for arg in args:
                conn.push(_json.encode({"event": "subscribe", "arg": arg, "connId": "test"}))


def _parse_op(text: str) -> tuple[str, list[dict[str, Any]]]:
    try:
        request = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return "", []
    if not isinstance(request, dict):
        return "", []
    args = request.get("args", [])
    return str(request.get("op", "")), [a for a in args if isinstance(a, dict)] if isinstance(
        args, list
    ) else []
