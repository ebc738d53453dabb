"""Helpers for driving adapters against the local test venue: cases, recorders, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import SHARED_DATA

from ttquant.model.account import AccountState
from ttquant.model.data import QuoteTick
from ttquant.model.enums import OrderSide, OrderType, TimeInForce
from ttquant.model.events import OrderEvent, OrderFilled
from ttquant.model.instruments import Instrument
from ttquant.model.orders import Order
from ttquant.testvenue import TestVenue, binance_venue, okx_venue
from ttquant.testvenue.instruments import (
    BINANCE_SPOT_BTCUSDT,
    BINANCE_USDM_BTCUSDT,
    OKX_SPOT_BTCUSDT,
)
from ttquant.venues.adapter import LiveAdapter
from ttquant.venues.binance import BinanceAdapter, BinanceConfig
from ttquant.venues.ccxt import CcxtAdapter, CcxtConfig
from ttquant.venues.okx import OkxAdapter, OkxConfig
from ttquant.venues.reports import SendRecord

KEY, SECRET, PASSPHRASE = "test-key", "test-secret", "test-pass"
SaveHook = Callable[[SendRecord], None]
# loopback timings: every failure is noticed and healed within a second or two
FAST = {
    "request_timeout": 1.0,
    "connect_timeout": 5.0,
    "stale_after": 1.5,
    "ping_interval": 0.5,
    "backoff_initial": 0.05,
    "backoff_max": 0.5,
    "unknown_query_delay": 0.2,
}


@dataclass(frozen=True)
class Case:
    """One adapter on its test venue: how to build both, and what the adapter can do."""

    name: str
    instrument: Instrument
    make_venue: Callable[[Path], TestVenue]
    make_adapter: Callable[[TestVenue, dict[str, Any], SaveHook], LiveAdapter]
    can_modify: bool = True

    def __str__(self) -> str:
        return self.name


def _binance(market: str, inst: Instrument) -> Case:
    def adapter(venue: TestVenue, overrides: dict[str, Any], save: SaveHook) -> LiveAdapter:
        cfg = BinanceConfig(
            api_key=KEY,
            api_secret=SECRET,
            market=market,
            rest_url=venue.url,
            ws_url=venue.ws_url,
            depth_speed="0ms" if market == "usdm" else "100ms",
            **{**FAST, **overrides},
        )
        return BinanceAdapter(cfg, [inst], name=inst.venue, save_before_send=save)

    return Case(
        f"binance-{market}",
        inst,
        lambda data: binance_venue(data, market=market, api_key=KEY, api_secret=SECRET, speed=5.0),
        adapter,
    )


def _okx() -> Case:
    def adapter(venue: TestVenue, overrides: dict[str, Any], save: SaveHook) -> LiveAdapter:
        cfg = OkxConfig(
            api_key=KEY,
            api_secret=SECRET,
            passphrase=PASSPHRASE,
            rest_url=venue.url,
            ws_url=venue.ws_url,
            **{**FAST, **overrides},
        )
        return OkxAdapter(cfg, [OKX_SPOT_BTCUSDT], save_before_send=save)

    return Case(
        "okx",
        OKX_SPOT_BTCUSDT,
        lambda data: okx_venue(
            data, api_key=KEY, api_secret=SECRET, passphrase=PASSPHRASE, speed=2.0
        ),
        adapter,
    )


def _ccxt() -> Case:
    def adapter(venue: TestVenue, overrides: dict[str, Any], save: SaveHook) -> LiveAdapter:
        api = venue.url + "/api/v3"
        options = {
            "urls": {
                "api": {
                    "public": api,
                    "private": api,
                    "v3": api,
                    "ws": {"spot": venue.ws_url + "/ws"},
                }
            },
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
            },
        }
        cfg = CcxtConfig(
            exchange="binance",
            api_key=KEY,
            api_secret=SECRET,
            options=options,
            poll_interval=0.2,
            **{**FAST, **overrides},
        )
        return CcxtAdapter(cfg, [BINANCE_SPOT_BTCUSDT], save_before_send=save)

    return Case(
        "ccxt-binance",
        BINANCE_SPOT_BTCUSDT,
        lambda data: binance_venue(data, market="spot", api_key=KEY, api_secret=SECRET, speed=5.0),
        adapter,
    )


BINANCE_SPOT = _binance("spot", BINANCE_SPOT_BTCUSDT)
BINANCE_USDM = _binance("usdm", BINANCE_USDM_BTCUSDT)
OKX = _okx()
CCXT = _ccxt()
ALL_CASES = [BINANCE_SPOT, BINANCE_USDM, OKX, CCXT]
NATIVE_CASES = [BINANCE_SPOT, BINANCE_USDM, OKX]


class Recorder:
    """Everything an adapter emitted, with the order events of one client order id at hand."""

    def __init__(self) -> None:
        self.events: list[OrderEvent | AccountState] = []
        self.data: list[Any] = []
        self.saved: list[SendRecord] = []

    def of(self, client_order_id: str, kind: type[OrderEvent] | None = None) -> list[OrderEvent]:
        return [
            e
            for e in self.events
            if isinstance(e, OrderEvent)
            and e.client_order_id == client_order_id
            and (kind is None or isinstance(e, kind))
        ]

    def fills(self, client_order_id: str) -> list[OrderFilled]:
        return [e for e in self.of(client_order_id, OrderFilled) if isinstance(e, OrderFilled)]

    def filled_qty(self, client_order_id: str) -> float:
        return sum(f.last_qty for f in self.fills(client_order_id))

    def data_since(self, ts_ns: int, kind: type) -> list[Any]:
        return [d for d in self.data if isinstance(d, kind) and getattr(d, "ts_init", 0) >= ts_ns]


class Session:
    """A running venue and a connected adapter, recorded."""

    def __init__(self, case: Case, venue: TestVenue, adapter: LiveAdapter, rec: Recorder) -> None:
        self.case = case
        self.venue = venue
        self.adapter = adapter
        self.rec = rec
        self._seq = 0

    @property
    def iid(self) -> str:
        return self.case.instrument.id

    def quote(self) -> QuoteTick:
        return self.venue.exchange.cache.quotes[self.iid]

    def order(
        self,
        side: OrderSide,
        quantity: float,
        price: float | None = None,
        *,
        order_type: OrderType | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
    ) -> Order:
        self._seq += 1
        kind = order_type or (OrderType.MARKET if price is None else OrderType.LIMIT)
        inst = self.case.instrument
        return Order(
            client_order_id=f"T-{self._seq}",
            strategy_id="T",
            instrument_id=self.iid,
            side=side,
            order_type=kind,
            quantity=quantity,
            price=inst.round_price(price) if price is not None else None,
            time_in_force=time_in_force,
        )

    def submit(self, order: Order) -> Order:
        self.adapter.submit_list([order])
        return order

    def venue_order(self, order: Order) -> Any:
        track = self.adapter.tracked(order.client_order_id)
        assert track is not None, f"adapter does not track {order.client_order_id}"
        return self.venue.exchange.find(track.venue_client_id)

    def venue_trade_ids(self, order: Order) -> list[str]:
        track = self.adapter.tracked(order.client_order_id)
        assert track is not None
        order_ids = {int(track.venue_order_id)} if track.venue_order_id else set()
        return sorted(
            str(t.trade_id) for t in self.venue.exchange.trades if t.order_id in order_ids
        )


def has_data(rec: Recorder, since: int, kind: type) -> Callable[[], bool]:
    return lambda: bool(rec.data_since(since, kind))


async def wait_until(predicate: Callable[[], bool], timeout: float = 8.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


async def open_session(case: Case, **overrides: Any) -> Session:
    venue = case.make_venue(SHARED_DATA)
    await venue.start()
    rec = Recorder()
    adapter = case.make_adapter(venue, overrides, rec.saved.append)
    adapter.set_event_handler(rec.events.append)
    adapter.set_data_handler(rec.data.append)
    await adapter.connect()
    return Session(case, venue, adapter, rec)


def run_session(
    case: Case,
    scenario: Callable[[Session], Awaitable[None]],
    timeout: float = 40.0,
    **overrides: Any,
) -> None:
    """Start a venue and an adapter, run ``scenario``, tear both down; fail on a hang."""

    async def main() -> None:
        session = await open_session(case, **overrides)
        try:
            await scenario(session)
        finally:
            await session.adapter.disconnect()
            await session.venue.stop()

    asyncio.run(_bounded(main(), timeout))


async def _bounded(coro: Coroutine[Any, Any, None], timeout: float) -> None:
    await asyncio.wait_for(coro, timeout)
