"""The machinery every live exchange adapter shares.

A live adapter is the venue end of the kernel: it takes the same commands as the simulated
venue (``submit_list``/``cancel``/``modify``, the :class:`~ttquant.execution.engine.VenueClient`
protocol) and reports back through the same order events, but its I/O runs on an asyncio loop.
Commands may come from another thread (the kernel's); events are handed to one handler (the
kernel's thread-safe queue) from the loop.

Why the shared part is large: the bugs users of other platforms report most live here, and
they are the same on every exchange.

* **Save before send.** Each order gets a venue client id generated locally (a configurable
  prefix marks ours) and is handed to ``save_before_send`` before any byte leaves, so after a
  crash every order that might exist at the venue is on record.
* **Unknown is not failed.** A send that times out may have been executed. Its order stays in
  flight and is resolved by querying the venue; it is never sent again blindly.
* **Exactly once.** Acceptances and terminal states are emitted once per order and fills once
  per trade id, whatever mix of stream pushes, REST answers and post-reconnect queries reports
  them. A terminal state whose filled quantity exceeds the fills we know first fetches the
  missing fills.

An exchange subclass supplies parsing and the venue-specific requests (``_place``,
``_cancel_order``, ``_amend``, ``_query``, ``_order_fills``) and its feeds; see
``docs/adapters.md`` and ``venues/_template``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import string
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any

import msgspec

from ttquant.core.errors import ConfigError, VenueError
from ttquant.model.account import AccountState
from ttquant.model.data import BarType
from ttquant.model.enums import ContingencyType, OrderType, TimeInForce
from ttquant.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderUpdated,
)
from ttquant.model.instruments import Instrument
from ttquant.model.orders import Order
from ttquant.venues.net.errors import (
    RequestNotSentError,
    RequestOutcomeUnknownError,
    VenueRejectedError,
)
from ttquant.venues.net.ws import WsFeed
from ttquant.venues.reasons import LiveRejectReason
from ttquant.venues.reports import (
    FillReport,
    OrderReport,
    PositionReport,
    ReportStatus,
    SendRecord,
)

log = logging.getLogger(__name__)

EventHandler = Callable[[OrderEvent | AccountState], None]
DataHandler = Callable[[Any], None]
StaleHandler = Callable[[str, bool], None]
_QTY_EPS = 1e-9
_ID_ALPHABET = string.digits + string.ascii_lowercase
_KEEP_DONE = 10_000  # finished orders remembered to recognise late duplicate reports


class AdapterConfig(msgspec.Struct, kw_only=True):
    """Settings every adapter understands; exchange configs add their own fields."""

    api_key: str = ""
    api_secret: str = ""
    passphrase: str = ""
    client_id_prefix: str = "ttq"
    request_timeout: float = 10.0  # a send without an answer by then is "unknown"
    connect_timeout: float = 15.0
    stale_after: float = 30.0  # market data silence that counts as a dead feed
    ping_interval: float = 20.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    unknown_query_delay: float = 1.0  # first query of an unknown send, doubled per attempt
    unknown_query_attempts: int = 5  # "not found" answers before declaring it never arrived
    book_levels: int = 10  # levels in each published BookDepth


class ClientIdFactory:
    """Venue client order ids: ``prefix`` + base-36 milliseconds + base-36 sequence.

    Alphanumeric only and at most 32 characters, which every supported venue accepts (OKX is
    the strictest). The millisecond part keeps ids unique across restarts without a store.
    """

    def __init__(self, prefix: str, clock: Callable[[], int] = time.time_ns) -> None:
        if not (prefix.isascii() and prefix.isalnum() and 1 <= len(prefix) <= 8):
            raise ConfigError(f"client id prefix {prefix!r} must be 1 to 8 ASCII letters or digits")
        self.prefix = prefix
        self._clock = clock
        self._seq = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._seq += 1
            seq = self._seq
        return f"{self.prefix}{_base36(self._clock() // 1_000_000)}{_base36(seq)}"

    def owns(self, venue_client_id: str) -> bool:
        return venue_client_id.startswith(self.prefix)


def _base36(value: int) -> str:
    digits = []
    while True:
        value, rem = divmod(value, 36)
        digits.append(_ID_ALPHABET[rem])
        if not value:
            return "".join(reversed(digits))


class TrackedOrder:
    """The adapter's record of one kernel order at the venue."""

    __slots__ = (
        "accepted",
        "backfilling",
        "client_order_id",
        "done",
        "filled_qty",
        "instrument_id",
        "order_type",
        "pending_terminal",
        "post_only",
        "price",
        "prior_filled",
        "quantity",
        "reduce_only",
        "side",
        "strategy_id",
        "symbol",
        "time_in_force",
        "trade_ids",
        "trigger_price",
        "unknown",
        "venue_client_id",
        "venue_order_id",
    )

    def __init__(self, order: Order, venue_client_id: str, symbol: str) -> None:
        self.client_order_id = order.client_order_id
        self.strategy_id = order.strategy_id
        self.instrument_id = order.instrument_id
        self.side = order.side
        self.order_type = order.order_type
        self.time_in_force = order.time_in_force
        self.quantity = order.quantity
        self.price = order.price
        self.trigger_price = order.trigger_price
        self.post_only = order.post_only
        self.reduce_only = order.reduce_only
        self.symbol = symbol
        self.venue_client_id = venue_client_id
        self.venue_order_id = ""
        self.accepted = False
        self.done = False
        self.unknown = False
        self.filled_qty = 0.0
        self.prior_filled = 0.0  # filled by venue orders this one replaced (cancel-replace)
        self.trade_ids: set[str] = set()
        self.backfilling = False
        self.pending_terminal: OrderReport | None = None

    def ids(self, ts_event: int, ts_init: int) -> dict[str, Any]:
        return {
            "client_order_id": self.client_order_id,
            "strategy_id": self.strategy_id,
            "instrument_id": self.instrument_id,
            "ts_event": ts_event,
            "ts_init": ts_init,
            "venue_order_id": self.venue_order_id,
        }


class LiveAdapter(ABC):
    """Base class of exchange adapters (implements the kernel's ``VenueClient``)."""

    def __init__(
        self,
        name: str,
        config: AdapterConfig,
        instruments: Iterable[Instrument],
        *,
        clock: Callable[[], int] = time.time_ns,
        save_before_send: Callable[[SendRecord], None] | None = None,
    ) -> None:
        self.name = name.upper()
        self.config = config
        self.clock = clock
        self.save_before_send = save_before_send
        self.client_ids = ClientIdFactory(config.client_id_prefix, clock)
        self.instruments: dict[str, Instrument] = {}
        self._symbol_of: dict[str, str] = {}
        self._instrument_of: dict[str, str] = {}
        for inst in instruments:
            if inst.venue != self.name:
                raise ConfigError(f"{inst.id} is not an instrument of venue {self.name}")
            symbol = self.venue_symbol(inst)
            self.instruments[inst.id] = inst
            self._symbol_of[inst.id] = symbol
            self._instrument_of[symbol] = inst.id
        self._emit: EventHandler = _no_handler
        self._emit_data: DataHandler = _no_handler
        self._on_stale: StaleHandler | None = None
        self.on_orphan: Callable[[OrderReport], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._by_client_id: dict[str, TrackedOrder] = {}
        self._by_venue_client_id: dict[str, TrackedOrder] = {}
        self._by_venue_order_id: dict[str, TrackedOrder] = {}
        self._done_order: list[str] = []
        self.market_feeds: list[WsFeed] = []
        self.order_resyncs = 0  # times open orders were re-queried after a private reconnect
        self.fills_recovered = 0  # fills learned from queries, not from the stream

    # -- wiring ---------------------------------------------------------------------------------
    def set_event_handler(self, handler: EventHandler) -> None:
        self._emit = handler

    def set_data_handler(self, handler: DataHandler) -> None:
        self._emit_data = handler

    def set_stale_handler(self, handler: StaleHandler) -> None:
        """Called with (feed name, stale) whenever a market data feed turns stale or fresh."""
        self._on_stale = handler

    def _feed_stale_changed(self, feed: str, stale: bool) -> None:
        if self._on_stale is not None:
            self._on_stale(f"{self.name}:{feed}", stale)

    @property
    def stale(self) -> bool:
        """True when any market data feed is disconnected or silent (risk blocks new entries)."""
        return any(feed.stale for feed in self.market_feeds)

    # -- venue specifics ------------------------------------------------------------------------
    @abstractmethod
    def venue_symbol(self, instrument: Instrument) -> str:
        """The exchange's name for ``instrument``."""

    def symbol_of(self, instrument_id: str) -> str:
        try:
            return self._symbol_of[instrument_id]
        except KeyError:
            raise VenueError(f"{self.name}: instrument {instrument_id} is not configured") from None

    def unsupported(self, order: Order) -> str | None:
        """Why this venue cannot take ``order`` as it is, or None."""
        if order.contingency is not ContingencyType.NONE:
            return f"contingent orders ({order.contingency.value}) are not native at {self.name}"
        if order.order_type is OrderType.TRAILING_STOP:
            return f"trailing stops are not supported at {self.name}"
        return None

    @abstractmethod
    async def _place(self, track: TrackedOrder) -> OrderReport:
        """Send a new order; the venue's answer as a report. Raises the net errors."""

    @abstractmethod
    async def _cancel_order(self, track: TrackedOrder) -> OrderReport | None:
        """Cancel; the venue's answer as a report (None when it answers without one)."""

    @abstractmethod
    async def _amend(
        self,
        track: TrackedOrder,
        quantity: float,
        price: float | None,
        trigger_price: float | None,
    ) -> OrderReport:
        """Change a working order; the report of the order as changed."""

    @abstractmethod
    async def _query(self, track: TrackedOrder) -> OrderReport | None:
        """The venue's view of the order, None when it does not know it."""

    @abstractmethod
    async def _order_fills(self, track: TrackedOrder) -> list[FillReport]:
        """Every fill of the order the venue has recorded."""

    @abstractmethod
    async def _connect(self) -> None:
        """Open the private streams and whatever the venue needs before trading."""

    @abstractmethod
    async def _disconnect(self) -> None: ...

    # market data: subclasses override what they support
    async def subscribe_quotes(self, instrument_id: str) -> None:
        raise VenueError(f"{self.name}: quotes are not supported")

    async def subscribe_trades(self, instrument_id: str) -> None:
        raise VenueError(f"{self.name}: trades are not supported")

    async def subscribe_bars(self, bar_type: BarType) -> None:
        raise VenueError(f"{self.name}: bars are not supported")

    async def subscribe_book(self, instrument_id: str) -> None:
        raise VenueError(f"{self.name}: order books are not supported")

    # reconciliation queries
    async def open_orders(self) -> list[OrderReport]:
        raise VenueError(f"{self.name}: open order query is not supported")

    async def account_state(self) -> AccountState:
        raise VenueError(f"{self.name}: account query is not supported")

    async def positions(self) -> list[PositionReport]:
        return []

    # -- life cycle -----------------------------------------------------------------------------
    async def connect(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._connect()

    async def disconnect(self) -> None:
        await self._disconnect()
        for feed in self.market_feeds:
            await feed.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: background task failed", self.name, exc_info=task.exception())

    def _in_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn`` on the adapter's loop: now when called from it, else as soon as it can."""
        loop = self._loop
        if loop is None:
            raise VenueError(f"{self.name}: not connected (await connect() first)")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    # -- commands (VenueClient) -----------------------------------------------------------------
    def submit_list(self, orders: Sequence[Order]) -> None:
        now = self.clock()
        tracks: list[TrackedOrder] = []
        for order in orders:
            problem = self.unsupported(order) or self._unknown_instrument(order)
            if problem is not None:
                code = (
                    LiveRejectReason.UNKNOWN_INSTRUMENT
                    if order.instrument_id not in self.instruments
                    else LiveRejectReason.UNSUPPORTED_ORDER
                )
                self._in_loop(self._emit_rejected_order, order, code, problem)
                continue
            track = TrackedOrder(order, self.client_ids.next(), self.symbol_of(order.instrument_id))
            record = SendRecord(
                client_order_id=order.client_order_id,
                venue_client_id=track.venue_client_id,
                strategy_id=order.strategy_id,
                instrument_id=order.instrument_id,
                venue=self.name,
                ts_init=now,
            )
            if self.save_before_send is not None:
                try:
                    self.save_before_send(record)
                except Exception as exc:
                    message = f"not sent: saving it failed: {exc}"
                    self._in_loop(
                        self._emit_rejected_order, order, LiveRejectReason.NOT_SENT, message
                    )
                    continue
            tracks.append(track)
        for track in tracks:
            self._in_loop(self._begin_submit, track)

    def cancel(self, order: Order) -> None:
        self._in_loop(self._begin_cancel, order.client_order_id)

    def modify(
        self,
        order: Order,
        quantity: float | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
    ) -> None:
        self._in_loop(self._begin_modify, order.client_order_id, quantity, price, trigger_price)

    def _unknown_instrument(self, order: Order) -> str | None:
        if order.instrument_id in self.instruments:
            return None
        return f"{order.instrument_id} is not configured for {self.name}"

    def _emit_rejected_order(self, order: Order, reason: str, message: str) -> None:
        now = self.clock()
        self._emit(OrderRejected(**order.event_ids(now), reason=reason, message=message))

    def _begin_submit(self, track: TrackedOrder) -> None:
        self._register(track)
        self._spawn(self._submit(track))

    def _begin_cancel(self, client_order_id: str) -> None:
        track = self._by_client_id.get(client_order_id)
        if track is None:
            return  # rejected before sending: nothing at the venue to cancel
        self._spawn(self._cancel(track))

    def _begin_modify(
        self,
        client_order_id: str,
        quantity: float | None,
        price: float | None,
        trigger_price: float | None,
    ) -> None:
        track = self._by_client_id.get(client_order_id)
        if track is None:
            return
        self._spawn(self._modify(track, quantity, price, trigger_price))

    def _register(self, track: TrackedOrder) -> None:
        self._by_client_id[track.client_order_id] = track
        self._by_venue_client_id[track.venue_client_id] = track

    def rebind(self, track: TrackedOrder, venue_client_id: str) -> None:
        """The order now lives at the venue under a new client id (a cancel-replace)."""
        track.prior_filled = track.filled_qty
        track.venue_client_id = venue_client_id
        self._by_venue_client_id[venue_client_id] = track

    def restore(self, order: Order, venue_client_id: str) -> TrackedOrder:
        """Follow an order sent before a restart (reconciliation calls this before querying)."""
        track = TrackedOrder(order, venue_client_id, self.symbol_of(order.instrument_id))
        track.accepted = order.status not in (order.status.SUBMITTED, order.status.INITIALIZED)
        track.filled_qty = order.filled_qty
        track.venue_order_id = order.venue_order_id
        for event in order.events:
            if isinstance(event, OrderFilled):
                track.trade_ids.add(event.trade_id)
        self._register(track)
        if track.venue_order_id:
            self._by_venue_order_id[track.venue_order_id] = track
        return track

    def tracked(self, client_order_id: str) -> TrackedOrder | None:
        return self._by_client_id.get(client_order_id)

    # -- request flows --------------------------------------------------------------------------
    async def _submit(self, track: TrackedOrder) -> None:
        try:
            report = await self._place(track)
        except RequestNotSentError as exc:
            self._reject(track, LiveRejectReason.NOT_SENT, str(exc))
            return
        except RequestOutcomeUnknownError as exc:
            log.warning(
                "%s: %s is unknown (%s): resolving by query", self.name, track.venue_client_id, exc
            )
            track.unknown = True
            await self._resolve_unknown(track)
            return
        except VenueRejectedError as exc:
            self._reject(track, self.reject_reason(exc), exc.message)
            return
        self.apply_report(report)

    async def _resolve_unknown(self, track: TrackedOrder) -> None:
        """Query until the venue says what became of the send; never send again."""
        delay = self.config.unknown_query_delay
        not_found = 0
        while track.unknown and not track.done:
            await asyncio.sleep(delay)
            delay = min(delay * 2.0, self.config.backoff_max)
            if not track.unknown:
                return  # a stream report arrived meanwhile
            try:
                report = await self._query(track)
            except (RequestNotSentError, RequestOutcomeUnknownError):
                continue  # venue unreachable: keep asking, it is not an answer
            if report is not None:
                self.apply_report(report)
                return
            not_found += 1
            if not_found >= self.config.unknown_query_attempts:
                self._reject(
                    track,
                    LiveRejectReason.NOT_FOUND_AFTER_TIMEOUT,
                    f"send timed out and the venue has no order {track.venue_client_id} "
                    f"after {not_found} queries",
                )

    async def _cancel(self, track: TrackedOrder) -> None:
        if track.done:
            return
        try:
            report = await self._cancel_order(track)
        except VenueRejectedError as exc:
            self._emit(
                OrderCancelRejected(**track.ids(self.clock(), self.clock()), reason=exc.message)
            )
            await self.refresh(track)  # it may have filled or already be gone
            return
        except RequestNotSentError as exc:
            self._emit(
                OrderCancelRejected(**track.ids(self.clock(), self.clock()), reason=str(exc))
            )
            return
        except RequestOutcomeUnknownError:
            await self.refresh(track, until_answered=True)
            if not track.done:
                now = self.clock()
                reason = "cancel outcome unknown; the venue shows the order still working"
                self._emit(OrderCancelRejected(**track.ids(now, now), reason=reason))
            return
        if report is not None:
            self.apply_report(report)

    async def _modify(
        self,
        track: TrackedOrder,
        quantity: float | None,
        price: float | None,
        trigger_price: float | None,
    ) -> None:
        now = self.clock()
        if track.done:
            self._emit(OrderModifyRejected(**track.ids(now, now), reason="order is not open"))
            return
        new_qty = track.quantity if quantity is None else quantity
        try:
            report = await self._amend(track, new_qty, price, trigger_price)
        except VenueRejectedError as exc:
            self._emit(OrderModifyRejected(**track.ids(now, self.clock()), reason=exc.message))
            return
        except RequestNotSentError as exc:
            self._emit(OrderModifyRejected(**track.ids(now, self.clock()), reason=str(exc)))
            return
        except RequestOutcomeUnknownError:
            seen = await self.refresh(track, until_answered=True)
            changed = seen is not None and _matches(seen, track, new_qty, price)
            if not changed:
                reason = "modify outcome unknown; the venue shows the order unchanged"
                self._emit(OrderModifyRejected(**track.ids(now, self.clock()), reason=reason))
                return
            report = seen  # type: ignore[assignment]  # checked non-None above
        track.quantity = new_qty
        if price is not None:
            track.price = price
        if trigger_price is not None:
            track.trigger_price = trigger_price
        if report.venue_order_id:
            self._note_venue_order_id(track, report.venue_order_id)
        self._emit(
            OrderUpdated(
                **track.ids(report.ts_event, self.clock()),
                quantity=new_qty,
                price=price,
                trigger_price=trigger_price,
            )
        )
        self.apply_report(report)

    async def refresh(
        self, track: TrackedOrder, until_answered: bool = False
    ) -> OrderReport | None:
        """Query the order and apply what the venue says; returns the report."""
        delay = self.config.unknown_query_delay
        while True:
            try:
                report = await self._query(track)
            except (RequestNotSentError, RequestOutcomeUnknownError) as exc:
                if not until_answered:
                    log.warning("%s: query of %s failed: %s", self.name, track.venue_client_id, exc)
                    return None
                await asyncio.sleep(delay)
                delay = min(delay * 2.0, self.config.backoff_max)
                continue
            if report is not None:
                self.apply_report(report)
            return report

    async def resync_orders(self) -> None:
        """After a private stream reconnects: learn what happened to every open order meanwhile."""
        self.order_resyncs += 1
        for track in [t for t in self._by_client_id.values() if not t.done and not t.unknown]:
            await self.refresh(track)

    # -- reports -> events ----------------------------------------------------------------------
    def reject_reason(self, error: VenueRejectedError) -> str:
        """The reject reason code for a venue error; subclasses map their exchange's codes."""
        return LiveRejectReason.VENUE_REJECTED

    def _find(self, venue_client_id: str, venue_order_id: str) -> TrackedOrder | None:
        track = self._by_venue_client_id.get(venue_client_id) if venue_client_id else None
        if track is None and venue_order_id:
            track = self._by_venue_order_id.get(venue_order_id)
        return track

    def _note_venue_order_id(self, track: TrackedOrder, venue_order_id: str) -> None:
        if venue_order_id and venue_order_id != track.venue_order_id:
            track.venue_order_id = venue_order_id
            self._by_venue_order_id[venue_order_id] = track

    def apply_report(self, report: OrderReport) -> None:
        """Turn a venue's report about one of our orders into the events not yet emitted."""
        track = self._find(report.venue_client_id, report.venue_order_id)
        if track is None:
            if self.client_ids.owns(report.venue_client_id) and self.on_orphan is not None:
                self.on_orphan(report)
            return
        if report.fill is not None:
            self.apply_fill(report.fill, track)
        if report.venue_client_id and report.venue_client_id != track.venue_client_id:
            return  # news about a venue order this one replaced: only its fills matter
        track.unknown = False
        if track.done:
            return
        if report.status is ReportStatus.REJECTED:
            self._reject(track, report.reason or LiveRejectReason.VENUE_REJECTED, report.message)
            return
        self._note_venue_order_id(track, report.venue_order_id)
        self._accept(track, report.ts_event)
        missing = track.prior_filled + report.filled_qty - track.filled_qty
        if missing > _QTY_EPS * max(1.0, track.quantity):
            if report.status.is_terminal:
                track.pending_terminal = report
            if not track.backfilling:
                self._spawn(self._backfill(track))
            return
        if report.status.is_terminal:
            self._finish(track, report)

    def apply_fill(self, fill: FillReport, track: TrackedOrder | None = None) -> None:
        if track is None:
            track = self._find(fill.venue_client_id, fill.venue_order_id)
            if track is None:
                return
        if fill.trade_id in track.trade_ids:
            return
        track.trade_ids.add(fill.trade_id)
        self._note_venue_order_id(track, fill.venue_order_id)
        self._accept(track, fill.ts_event)
        track.filled_qty += fill.last_qty
        self._emit(
            OrderFilled(
                **track.ids(fill.ts_event, self.clock()),
                trade_id=fill.trade_id,
                side=fill.side,
                last_qty=fill.last_qty,
                last_px=fill.last_px,
                commission=fill.commission,
                commission_currency=fill.commission_currency,
                liquidity_side=fill.liquidity_side,
            )
        )
        if track.pending_terminal is not None and not track.backfilling:
            pending, track.pending_terminal = track.pending_terminal, None
            self.apply_report(pending)

    async def _backfill(self, track: TrackedOrder) -> None:
        """Fetch fills a terminal report counts but no stream message brought."""
        track.backfilling = True
        try:
            delay = self.config.unknown_query_delay / 4.0
            for _ in range(5):
                try:
                    fills = await self._order_fills(track)
                except (RequestNotSentError, RequestOutcomeUnknownError, VenueRejectedError) as exc:
                    log.warning(
                        "%s: fill query for %s failed: %s", self.name, track.venue_client_id, exc
                    )
                    fills = []
                for fill in sorted(fills, key=lambda f: f.ts_event):  # venues list newest first
                    if fill.trade_id not in track.trade_ids:
                        self.fills_recovered += 1
                        self.apply_fill(fill, track)
                pending = track.pending_terminal
                want = (
                    track.quantity if pending is None else track.prior_filled + pending.filled_qty
                )
                if pending is None or track.filled_qty >= want - _QTY_EPS * max(1.0, want):
                    break
                await asyncio.sleep(delay)
                delay *= 2.0
        finally:
            track.backfilling = False
        pending, track.pending_terminal = track.pending_terminal, None
        if pending is not None and not track.done:
            if track.filled_qty < track.prior_filled + pending.filled_qty - _QTY_EPS:
                log.error(
                    "%s: %s ended %s with %.10g filled but only %.10g in fills found",
                    self.name,
                    track.venue_client_id,
                    pending.status.value,
                    pending.filled_qty,
                    track.filled_qty,
                )
            self._finish(track, pending)

    def _accept(self, track: TrackedOrder, ts_event: int) -> None:
        if not track.accepted:
            track.accepted = True
            self._emit(OrderAccepted(**track.ids(ts_event, self.clock())))

    def _reject(self, track: TrackedOrder, reason: str, message: str) -> None:
        if track.done:
            return
        track.unknown = False
        self._mark_done(track)
        now = self.clock()
        self._emit(OrderRejected(**track.ids(now, now), reason=reason, message=message))

    def _finish(self, track: TrackedOrder, report: OrderReport) -> None:
        if track.done:
            return
        self._mark_done(track)
        status = report.status
        if status is ReportStatus.FILLED:
            return  # the fills already completed the order
        ids = track.ids(report.ts_event, self.clock())
        if status is ReportStatus.CANCELED or (
            status is ReportStatus.EXPIRED
            and (
                track.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
                or track.order_type is OrderType.MARKET
            )
        ):
            # an IOC/FOK remainder ends canceled, as at the simulated venue
            self._emit(OrderCanceled(**ids))
        elif status is ReportStatus.EXPIRED:
            self._emit(OrderExpired(**ids))

    def _mark_done(self, track: TrackedOrder) -> None:
        track.done = True
        done = self._done_order
        done.append(track.client_order_id)
        if len(done) > 2 * _KEEP_DONE:
            for cid in done[:_KEEP_DONE]:
                old = self._by_client_id.pop(cid, None)
                if old is not None:
                    self._by_venue_client_id.pop(old.venue_client_id, None)
                    self._by_venue_order_id.pop(old.venue_order_id, None)
            del done[:_KEEP_DONE]


def _matches(
    report: OrderReport, track: TrackedOrder, quantity: float, price: float | None
) -> bool:
    """Whether the venue's view shows a modify's requested quantity and price."""
    qty_ok = math.isclose(report.quantity + track.prior_filled, quantity, rel_tol=1e-9)
    price_ok = price is None or (report.price is not None and math.isclose(report.price, price))
    return qty_ok and price_ok


def _no_handler(event: object) -> None:
    raise VenueError("adapter has no handler; call set_event_handler/set_data_handler first")
