"""Market data for API clients: the latest quote, trade and book of each instrument of a node.

``ttq trade ticker`` and ``ttq trade book`` (and anything else that wants a price without
subscribing to the WebSocket) read them through ``GET /market/ticker`` and ``/market/book``.

A node handle may serve these itself (it implements :class:`MarketView`). For a handle over a
kernel in this process (it has ``kernel`` and ``lock``, like
:class:`~ttquant.api.kernel_node.KernelNodeHandle`), :class:`MarketWatch` reads the kernel's
cache (quotes, last prices) and follows from the kernel's bus what the cache does not keep:
``data.trades.*`` (the last trade's size and time) and ``data.books.*`` (starting from the
data step's books when the kernel has one). Each handler stores one reference, so watching costs
the kernel a dict assignment per event.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from ttquant.api.node import NodeCommandError
from ttquant.model.data import QuoteTick, TradeTick
from ttquant.venues.book import BookDepth


class TickerOut(BaseModel):
    instrument_id: str
    bid: float | None
    bid_size: float | None
    ask: float | None
    ask_size: float | None
    last: float | None
    last_size: float | None
    ts_ns: int | None  # of the newest of quote and trade


class BookOut(BaseModel):
    instrument_id: str
    bids: list[tuple[float, float]]  # (price, size), best first
    asks: list[tuple[float, float]]
    ts_ns: int | None


@runtime_checkable
class MarketView(Protocol):
    def ticker(self, instrument_id: str, account: str | None) -> TickerOut: ...

    def book(self, instrument_id: str, depth: int, account: str | None) -> BookOut: ...


class MarketWatch:
    """The latest quote, trade and book per instrument of one in-process kernel."""

    def __init__(self, kernel: Any, lock: threading.RLock) -> None:
        self._lock = lock
        self._cache = kernel.cache
        self._trades: dict[str, TradeTick] = {}
        step = getattr(kernel, "data_step", None)
        self._books: dict[str, BookDepth] = dict(getattr(step, "books", {}))
        kernel.bus.subscribe("data.trades.*", self._on_trade)
        kernel.bus.subscribe("data.books.*", self._on_book)

    def _on_trade(self, trade: TradeTick) -> None:
        self._trades[trade.instrument_id] = trade

    def _on_book(self, book: BookDepth) -> None:
        self._books[book.instrument_id] = book

    def ticker(self, instrument_id: str, account: str | None) -> TickerOut:
        with self._lock:
            self._check(instrument_id, account)
            quote: QuoteTick | None = self._cache.quotes.get(instrument_id)
            book = self._books.get(instrument_id)
            trade = self._trades.get(instrument_id)
            price = self._cache.prices.get(instrument_id)
        bid = ask = bid_size = ask_size = None
        quote_ts: int | None = None
        if quote is not None:
            bid, ask, quote_ts = quote.bid_price, quote.ask_price, quote.ts_event
            bid_size, ask_size = quote.bid_size, quote.ask_size
        if book is not None and (quote_ts is None or book.ts_event > quote_ts):
            if book.bids:
                bid, bid_size = book.bids[0]
            if book.asks:
                ask, ask_size = book.asks[0]
            quote_ts = book.ts_event
        last: float | None = None
        last_size: float | None = None
        trade_ts: int | None = None
        if trade is not None:  # the last trade, or else the kernel's last price (a bar's close)
            last, last_size, trade_ts = trade.price, trade.size, trade.ts_event
        elif price is not None and math.isfinite(price):
            last = price
        stamps = [t for t in (quote_ts, trade_ts) if t is not None]
        return TickerOut(
            instrument_id=instrument_id,
            bid=bid,
            bid_size=bid_size,
            ask=ask,
            ask_size=ask_size,
            last=last,
            last_size=last_size,
            ts_ns=max(stamps) if stamps else None,
        )

    def book(self, instrument_id: str, depth: int, account: str | None) -> BookOut:
        with self._lock:
            self._check(instrument_id, account)
            book = self._books.get(instrument_id)
        if book is None:
            raise NodeCommandError(
                404, f"no order book for {instrument_id}: the node does not subscribe to its depth"
            )
        return BookOut(
            instrument_id=instrument_id,
            bids=list(book.bids[:depth]),
            asks=list(book.asks[:depth]),
            ts_ns=book.ts_event,
        )

    def _check(self, instrument_id: str, account: str | None) -> None:
        venue = instrument_id.rpartition("@")[2]
        instruments = self._cache.instruments
        if instrument_id not in instruments or (account is not None and account != venue):
            known = ", ".join(sorted(instruments)) or "none"
            raise NodeCommandError(404, f"unknown instrument {instrument_id!r} (known: {known})")


def market_view(node: object, cache: dict[int, MarketView]) -> MarketView | None:
    """The market view of ``node``: its own, or a watch over its in-process kernel (made once
    per node and kept in ``cache``); None when it has neither."""
    if isinstance(node, MarketView):
        return node
    found = cache.get(id(node))
    if found is not None:
        return found
    kernel, lock = getattr(node, "kernel", None), getattr(node, "lock", None)
    if kernel is None or lock is None:
        return None
    with lock:  # subscribing changes the bus, which the kernel's thread reads
        watch = cache.setdefault(id(node), MarketWatch(kernel, lock))
    return watch
