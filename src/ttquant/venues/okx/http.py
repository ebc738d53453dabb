"""OKX v5 REST: signed requests, server time offset, and the ``code``/``sCode`` envelope."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

import msgspec

from ttquant.venues.net.errors import VenueRejectedError
from ttquant.venues.net.ratelimit import LimitRule, RequestBudget
from ttquant.venues.net.rest import RestClient
from ttquant.venues.okx.messages import OrderAck, Response, ServerTime
from ttquant.venues.okx.signing import iso_timestamp, sign

# OKX returns no usage headers: these budgets count our own requests (placing is limited to
# 60 requests per 2 s per instrument, queries to 20-60 per 2 s; one conservative pool)
LIMITS = [
    LimitRule("-okx-orders-2s", 60, 2.0, counts_orders=True),
    LimitRule("-okx-requests-2s", 40, 2.0),
]
_response = msgspec.json.Decoder(Response)
_acks = msgspec.json.Decoder(list[OrderAck])
_time = msgspec.json.Decoder(list[ServerTime])


class OkxHttp:
    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        api_key: str,
        api_secret: str,
        passphrase: str,
        demo: bool,
        timeout: float,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.name = name
        self.api_key = api_key
        self._secret = api_secret
        self._passphrase = passphrase
        self.demo = demo
        self._clock = clock
        self.offset_ns = 0
        self.budget = RequestBudget(LIMITS)
        self.rest = RestClient(base_url, timeout, name)

    def now_ns(self) -> int:
        return self._clock() + self.offset_ns

    async def sync_time(self) -> None:
        before = self._clock()
        data = await self.request("GET", "/api/v5/public/time", signed=False)
        after = self._clock()
        server_ms = int(_time.decode(data)[0].ts)
        self.offset_ns = server_ms * 1_000_000 - (before + after) // 2

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: dict[str, str] | None = None,
        *,
        signed: bool = True,
        orders: int = 0,
    ) -> msgspec.Raw:
        """The ``data`` of a successful answer; a ``VenueRejectedError`` for any error code."""
        query = urlencode(params) if params else ""
        request_path = f"{path}?{query}" if query else path
        text = msgspec.json.encode(body).decode() if body is not None else ""
        headers = {"Content-Type": "application/json"}
        if signed:
            stamp = iso_timestamp(self.now_ns())
            headers.update(
                {
                    "OK-ACCESS-KEY": self.api_key,
                    "OK-ACCESS-SIGN": sign(self._secret, stamp, method, request_path, text),
                    "OK-ACCESS-TIMESTAMP": stamp,
                    "OK-ACCESS-PASSPHRASE": self._passphrase,
                }
            )
        if self.demo:
            headers["x-simulated-trading"] = "1"
        await self.budget.acquire(0 if orders else 1, orders)
        response = await self.rest.request(
            method, path, query=query, headers=headers, content=text.encode() if text else None
        )
        if response.status_code == 429:
            self.budget.block_for(1.0)
        try:
            decoded = _response.decode(response.content)
        except msgspec.DecodeError:
            raise VenueRejectedError(
                self.name, str(response.status_code), response.text[:200]
            ) from None
        if decoded.code != "0":
            code, message = decoded.code, decoded.msg
            if decoded.data:  # a failed order operation names the cause per item
                acks = _acks.decode(decoded.data)
                if acks and acks[0].sCode != "0":
                    code, message = acks[0].sCode, acks[0].sMsg
            raise VenueRejectedError(self.name, code, message, response.status_code)
        return decoded.data

    async def order_op(self, path: str, body: dict[str, str]) -> OrderAck:
        """Place, cancel or amend one order: its acknowledgement, or ``VenueRejectedError``."""
        data = await self.request("POST", path, body=body, orders=1)
        ack = _acks.decode(data)[0]
        if ack.sCode != "0":
            raise VenueRejectedError(self.name, ack.sCode, ack.sMsg)
        return ack

    async def aclose(self) -> None:
        await self.rest.aclose()
