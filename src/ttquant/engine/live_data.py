"""How live events reach the single-threaded kernel: one clock, one queue, one step per event.

Adapters run on the node's asyncio loop and hand everything they produce (market data, order
events, account states) to :class:`Inbox`, the one queue in front of the kernel. The kernel
drains it on the same loop, after the adapter's callback has returned, so a strategy never runs
inside adapter code and events are handled strictly in arrival order.

:class:`MarketDataStep` applies one market data event exactly as the backtest loop does
(``engine/backtest.py``): the simulated venue matches first (paper mode), the fills it makes are
applied, the price is recorded, then the event is published to indicators and strategies. A
recorded session replayed through a backtest therefore gives the same signals and orders.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable

from ttquant.core.bus import MessageBus
from ttquant.core.clock import LiveClock
from ttquant.execution.engine import ExecutionEngine
from ttquant.model.cache import Cache
from ttquant.model.data import Bar, QuoteTick, TradeTick, bar_topic, quote_topic, trade_topic
from ttquant.venues.book import BookDepth
from ttquant.venues.sim.venue import SimulatedVenue

log = logging.getLogger(__name__)

MarketEvent = QuoteTick | TradeTick | Bar | BookDepth


def book_topic(instrument_id: str) -> str:
    return f"data.books.{instrument_id}"


class NodeClock(LiveClock):
    """Wall-clock time, held at the time of the event being handled.

    While the kernel handles an event, "now" is that event's ``ts_init`` (when ttquant could
    know it), never later: an order a strategy sends in ``on_quote`` is stamped with the quote's
    time, as in a backtest of the recording, and the paper venue matches it against that quote.
    Between events the clock is the wall clock. Held times never go backwards.
    """

    def __init__(self) -> None:
        super().__init__()
        self.held_ns = 0
        self._last_ns = 0

    def timestamp_ns(self) -> int:
        return self.held_ns or time.time_ns()

    def hold(self, ts_ns: int) -> None:
        ts_ns = max(ts_ns, self._last_ns)
        self.held_ns = self._last_ns = ts_ns

    def release(self) -> None:
        self.held_ns = 0


class Inbox:
    """The one queue between the I/O side (adapters, sockets, control calls) and the kernel."""

    def __init__(self, handle: Callable[[object], None]) -> None:
        self._handle = handle
        self._items: deque[object] = deque()
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.after_drain: Callable[[], None] | None = None  # once the queue is empty again
        self.handled = 0
        self.failures = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def put(self, item: object) -> None:
        """Queue ``item`` (on the node's loop); the kernel handles it once the caller is done."""
        self._items.append(item)
        if not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self.drain)

    def put_threadsafe(self, item: object) -> None:
        """Queue ``item`` from another thread."""
        if self._loop is None:
            raise RuntimeError("inbox is not bound to a loop yet")
        self._loop.call_soon_threadsafe(self.put, item)

    def drain(self) -> None:
        self._scheduled = False
        items = self._items
        handle = self._handle
        while items:
            item = items.popleft()
            try:
                handle(item)
            except Exception:  # a kernel bug must not stop the node: log it, keep going
                self.failures += 1
                log.exception("kernel failed to handle %r", item)
            self.handled += 1
        if self.after_drain is not None:
            self.after_drain()

    def __len__(self) -> int:
        return len(self._items)


class MarketDataStep:
    """Apply one market data event to the kernel, in the backtest's order."""

    def __init__(
        self,
        clock: NodeClock,
        cache: Cache,
        bus: MessageBus,
        execution: ExecutionEngine,
        sim: SimulatedVenue | None,
    ) -> None:
        self.clock = clock
        self.cache = cache
        self.bus = bus
        self.execution = execution
        self.sim = sim
        self.books: dict[str, BookDepth] = {}  # the latest depth of every instrument with a book
        self._topics: dict[object, list[Callable[[object], None]]] = {}

    def __call__(self, event: MarketEvent) -> None:
        self.clock.hold(event.ts_init)
        sim = self.sim
        cache = self.cache
        if type(event) is QuoteTick:
            iid = event.instrument_id
            cache.quotes[iid] = event
            if sim is not None and (engine := sim.engines.get(iid)) is not None and engine.working:
                # matched in local time: the exchange's clock says when it happened there, but
                # an order sent before the quote arrived here must meet it (and no earlier one)
                t = event.ts_init
                engine.process_points(event.ask_price, event.bid_price, math.inf, t, t)
            cache.prices[iid] = (event.bid_price + event.ask_price) / 2.0
            key: object = ("q", iid)
        elif type(event) is TradeTick:
            iid = event.instrument_id
            if sim is not None and (engine := sim.engines.get(iid)) is not None and engine.working:
                t = event.ts_init
                engine.process_points(event.price, event.price, event.size, t, t)
            cache.prices[iid] = event.price
            key = ("t", iid)
        elif type(event) is Bar:
            iid = event.bar_type.instrument_id
            if sim is not None:
                sim.process_bar(event)
            cache.prices[iid] = event.close
            key = event.bar_type
        else:
            assert isinstance(event, BookDepth)
            self.books[event.instrument_id] = event
            key = ("b", event.instrument_id)
        execution = self.execution
        if execution.pending:
            execution.process_events()
        handlers = self._topics.get(key)
        if handlers is None:
            handlers = self._topics[key] = self.bus.handlers_for(_topic(event))
        for handler in handlers:
            handler(event)
        if execution.pending:
            execution.process_events()


def _topic(event: MarketEvent) -> str:
    if type(event) is QuoteTick:
        return quote_topic(event.instrument_id)
    if type(event) is TradeTick:
        return trade_topic(event.instrument_id)
    if type(event) is Bar:
        return bar_topic(event.bar_type)
    return book_topic(event.instrument_id)
