"""Binance REST: signing, server time offset, rate-limit budgets and error decoding."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

import httpx
import msgspec

from ttquant.venues.binance.messages import ApiError, ServerTime
from ttquant.venues.binance.signing import signed_query
from ttquant.venues.net.errors import VenueRejectedError
from ttquant.venues.net.ratelimit import LimitRule, RequestBudget
from ttquant.venues.net.rest import RestClient

SPOT_LIMITS = [
    LimitRule("X-MBX-USED-WEIGHT-1M", 6000, 60.0),
    LimitRule("X-MBX-ORDER-COUNT-10S", 100, 10.0, counts_orders=True),
    LimitRule("X-MBX-ORDER-COUNT-1D", 200_000, 86_400.0, counts_orders=True),
]
FUTURES_LIMITS = [
    LimitRule("X-MBX-USED-WEIGHT-1M", 2400, 60.0),
    LimitRule("X-MBX-ORDER-COUNT-10S", 300, 10.0, counts_orders=True),
    LimitRule("X-MBX-ORDER-COUNT-1M", 1200, 60.0, counts_orders=True),
]
TIMESTAMP_OUTSIDE_WINDOW = -1021
_api_error = msgspec.json.Decoder(ApiError)
_server_time = msgspec.json.Decoder(ServerTime)


class BinanceHttp:
    """One Binance REST endpoint (spot ``/api/v3`` or futures ``/fapi``) for one API key."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        api_key: str,
        api_secret: str,
        futures: bool,
        recv_window_ms: int,
        timeout: float,
        clock: Callable[[], int] = time.time_ns,
        budget: RequestBudget | None = None,
    ) -> None:
        self.name = name
        self.futures = futures
        self.api_key = api_key
        self._secret = api_secret
        self.recv_window_ms = recv_window_ms
        self._clock = clock
        self.offset_ms = 0  # server time minus local time
        self.budget = budget or RequestBudget(FUTURES_LIMITS if futures else SPOT_LIMITS)
        self.rest = RestClient(base_url, timeout, name)
        self.prefix = "/fapi/v1" if futures else "/api/v3"

    def path(self, endpoint: str, version: str | None = None) -> str:
        if version is None:
            return f"{self.prefix}/{endpoint}"
        return f"/fapi/{version}/{endpoint}" if self.futures else f"/api/{version}/{endpoint}"

    async def sync_time(self) -> None:
        """Measure the offset to the server clock (half the round trip counts as transit)."""
        before = self._clock() // 1_000_000
        body = await self.public("GET", self.path("time"), {}, weight=1)
        after = self._clock() // 1_000_000
        server = _server_time.decode(body).server_time
        self.offset_ms = server - (before + after) // 2

    def timestamp_ms(self) -> int:
        return self._clock() // 1_000_000 + self.offset_ms

    async def public(self, method: str, path: str, params: dict[str, str], weight: int) -> bytes:
        return await self._send(method, path, urlencode(params), {}, weight, 0)

    async def keyed(self, method: str, path: str, params: dict[str, str], weight: int) -> bytes:
        """With the API key but unsigned (the listenKey endpoints)."""
        headers = {"X-MBX-APIKEY": self.api_key}
        return await self._send(method, path, urlencode(params), headers, weight, 0)

    async def signed(
        self, method: str, path: str, params: dict[str, str], weight: int, orders: int = 0
    ) -> bytes:
        headers = {"X-MBX-APIKEY": self.api_key}
        for attempt in (0, 1):
            query = signed_query(params, self._secret, self.timestamp_ms(), self.recv_window_ms)
            try:
                return await self._send(method, path, query, headers, weight, orders)
            except VenueRejectedError as exc:
                # the venue refused it for our clock, so it did not act on it: resync, retry once
                if exc.code != str(TIMESTAMP_OUTSIDE_WINDOW) or attempt:
                    raise
                await self.sync_time()
        raise AssertionError("unreachable")

    async def _send(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        weight: int,
        orders: int,
    ) -> bytes:
        await self.budget.acquire(weight, orders)
        response = await self.rest.request(method, path, query=query, headers=headers)
        self.budget.update(response.headers)
        if response.status_code in (418, 429):
            self.budget.block_for(_retry_after(response))
        if response.status_code >= 400:
            raise self._error(response)
        return response.content

    def _error(self, response: httpx.Response) -> VenueRejectedError:
        try:
            err = _api_error.decode(response.content)
            code, message = str(err.code), err.msg
        except msgspec.DecodeError:
            code, message = str(response.status_code), response.text[:200]
        return VenueRejectedError(self.name, code, message, response.status_code)

    async def aclose(self) -> None:
        await self.rest.aclose()


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", "1"))
    except ValueError:
        return 1.0
