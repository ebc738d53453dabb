"""The trading node: the backtest's kernel on live data, paper or live, in one asyncio loop.

The kernel is the one backtests use (message bus, cache, risk engine, execution engine,
portfolio, strategies); a mode swaps the clock, the data and the venue:

* **paper**: market data from the exchange adapter, orders filled by the simulated venue on
  those prices (``SimulatedVenue``, as in a backtest), records in a store of their own;
* **live**: the exchange adapter is the venue too.

Everything runs on one asyncio loop. Adapters put what they receive into the node's one queue
(:class:`~ttquant.engine.live_data.Inbox`) and the kernel handles it in arrival order after
their callback returns; timers fire from the same loop. Start-up restores the run from the store
and the journal and reconciles with the venue before any strategy starts; a reconnect pauses new
orders until the next reconciliation is done. SIGINT/SIGTERM stop gracefully: strategies stop,
open orders are canceled or kept (``on_stop``), the store is flushed and the journal compacted.
SIGHUP (or a changed config file) reloads the config.

The node is also the host of the split topology's strategy and gateway processes
(:mod:`ttquant.engine.topology`), which give it other data sources and venues.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttquant.core.bus import MessageBus
from ttquant.core.clock import TimeEvent
from ttquant.core.errors import ConfigError, TTQuantError
from ttquant.engine.journal import Journal, SentOrder, StrategyState
from ttquant.engine.live_data import Inbox, MarketDataStep, NodeClock
from ttquant.engine.node_config import NodeConfig, ReloadPlan, load_node_config, reload_plan
from ttquant.engine.node_venues import build_adapter, build_paper_venue, redacted
from ttquant.engine.persistence import StoredRun, TradingRecords, load_run
from ttquant.engine.reconciliation import (
    Reconciler,
    Restored,
    close_lost_paper_orders,
    restore,
    restore_paper_ledger,
)
from ttquant.engine.recorder import Recorder
from ttquant.engine.strategy_host import StrategyHost, StrategyStatus
from ttquant.execution.engine import ExecutionEngine, VenueClient
from ttquant.model.account import AccountState
from ttquant.model.cache import Cache
from ttquant.model.data import Bar, BarType, QuoteTick, TradeTick, parse_step
from ttquant.model.events import OrderEvent, OrderFilled
from ttquant.model.instruments import instrument_id
from ttquant.model.orders import Order
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.alerts import Alert, AlertLevel, AlertManager
from ttquant.risk.engine import RiskEngine
from ttquant.venues.adapter import LiveAdapter
from ttquant.venues.book import BookDepth
from ttquant.venues.reports import SendRecord
from ttquant.venues.sim.venue import SimulatedVenue

log = logging.getLogger("ttquant.node")

_MARKET_TYPES = (QuoteTick, TradeTick, Bar, BookDepth)
_RECORDS_PRIORITY = -100_000  # after every strategy and the risk engine have seen an event


@dataclass(slots=True)
class NodeStatus:
    """What the control API reports about the node."""

    name: str
    mode: str
    role: str
    state: str  # starting | reconciling | running | stopping | stopped
    paused: str
    stale_feeds: list[str]
    events: int
    kernel_errors: int
    reconciliations: int
    open_orders: int
    fills: int
    equity: float


class TradingNode:
    """One node: its kernel, venues, strategies, records, and their life cycle."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        config_path: Path | None = None,
        role: str = "node",  # node | strategy | gateway
        venue_client: VenueClient | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.role = role
        self.mode = config.node.mode
        self.name = config.node.name
        self.run_id = f"{self.mode}-{self.name}"
        self.clock = NodeClock()
        self.bus = MessageBus()
        self.cache = Cache(self.clock.timestamp_ns)
        self.portfolio = Portfolio(self.cache)
        self.execution = ExecutionEngine(self.bus, self.cache, self.portfolio)
        self.risk = RiskEngine(self.cache, self.portfolio, self.execution, self.bus)
        self.alerts = AlertManager()
        self.alerts.subscribe(self._on_alert)
        self.instruments = config.build_instruments()
        for inst in self.instruments:
            self.cache.add_instrument(inst)
        self.inbox = Inbox(self._handle)
        self.state = "starting"
        self.stale_feeds: set[str] = set()
        self.adapter: LiveAdapter | None = None
        self.sim: SimulatedVenue | None = None
        self.venue_client = venue_client
        self.records: TradingRecords | None = None
        self.journal: Journal | None = None
        self.reconciler: Reconciler | None = None
        self.restored = Restored()
        self._bar_types = _bar_types(config)
        self._feeds: set[tuple[str, str]] = set()
        self._feed_tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._config_mtime = _mtime(config_path)
        self._extra_handlers: list[tuple[type, Callable[[Any], None]]] = []
        self.recorder: Recorder | None = None
        self.recording = False
        # the split topology plugs its sockets in here
        self.start_hooks: list[Callable[[], Awaitable[None]]] = []
        self.stop_hooks: list[Callable[[], Awaitable[None]]] = []
        self.account_listeners: list[Callable[[AccountState], None]] = []
        self.ready = threading.Event()  # set once strategies run (tests, control API callers)
        self.stopped = threading.Event()
        self.host = StrategyHost(
            clock=self.clock,
            cache=self.cache,
            portfolio=self.portfolio,
            bus=self.bus,
            risk=self.risk,
            execution=self.execution,
            alerts=self.alerts,
            venue=config.venue_name,
            bar_types=self._bar_types,
            on_error=config.node.on_strategy_error,
            on_subscribe=self._ensure_feed,
            on_state=self._journal_state,
            on_action=lambda kind, sid, msg: self._record(kind, msg, {}, strategy_id=sid),
        )
        from ttquant.engine.control import NodeControl

        self.control = NodeControl(self)

    # -- wiring ---------------------------------------------------------------------------------
    def _open_records(self) -> None:
        """The store (paper: a database of its own by default) and the journal."""
        from ttquant.store import open_store

        store = open_store(self._store_url())
        self.records = TradingRecords(
            store, self.run_id, self.cache, flush_interval=self.config.node.flush_interval
        )
        self.journal = Journal(self._state_dir() / f"{self.role}.journal")
        self.bus.subscribe("events.order.*", self.records.on_order_event, _RECORDS_PRIORITY)

    def _state_dir(self) -> Path:
        from ttquant.store.location import data_home

        return Path(self.config.node.state_dir or data_home() / "nodes" / self.run_id)

    def _store_url(self) -> str | None:
        from ttquant.store.location import data_home

        url = self.config.node.store
        if not url and self.mode == "paper":
            url = f"sqlite:///{data_home() / 'paper.sqlite'}"
        return url or None

    def _gateway_records(self) -> StoredRun:
        """Orders and fills of this process's strategies from the gateway's records."""
        from ttquant.store import open_store

        ours = set(self.config.strategy_ids())
        with open_store(self._store_url()) as store:
            run = load_run(store, self.run_id)
        orders = {c: r for c, r in run.orders.items() if r["strategy_id"] in ours}
        return StoredRun(
            orders,
            {c: e for c, e in run.events.items() if c in orders},
            [f for f in run.fills if f.strategy_id in ours],
        )

    def _build_venue(self) -> None:
        needs_adapter_venue = self.mode == "live" and self.role in ("node", "gateway")
        market_from_adapter = self.role == "node"
        if needs_adapter_venue or market_from_adapter:
            self.adapter = build_adapter(
                self.config, self.instruments, save_before_send=self._save_before_send
            )
        if self.venue_client is not None:  # the strategy process: the gateway is its venue
            self.execution.register_venue(self.venue_client)
            self.venue_client.set_event_handler(self.inbox.put)
        elif self.mode == "paper" and self.role in ("node", "gateway"):
            self.sim = build_paper_venue(self.config, self.cache)
            for inst in self.instruments:
                self.sim.add_instrument(inst)
            self.execution.register_venue(self.sim)
            self.portfolio.register_account(self.sim.account, self.sim.positions)
            self.bus.subscribe("events.order.*", self._paper_balances, _RECORDS_PRIORITY - 1)
        elif self.adapter is not None:
            self.execution.register_venue(self.adapter)
            self.adapter.set_event_handler(self.inbox.put)
        if self.adapter is not None:
            self.adapter.set_data_handler(self.inbox.put)
            self.adapter.set_stale_handler(self._on_stale)
        self.data_step = MarketDataStep(self.clock, self.cache, self.bus, self.execution, self.sim)

    def add_handler(self, kind: type, handler: Callable[[Any], None]) -> None:
        """Handle inbox items of ``kind`` (the split topology's requests) on the kernel."""
        self._extra_handlers.append((kind, handler))

    # -- the kernel's one entry -----------------------------------------------------------------
    def _handle(self, item: object) -> None:
        if isinstance(item, _MARKET_TYPES):
            self.data_step(item)
            if self.recording:
                self.recorder.record(item)  # type: ignore[union-attr]
        elif isinstance(item, OrderEvent):
            self.clock.hold(item.ts_init)
            self.execution.pending.append(item)
            self.execution.process_events()
        elif isinstance(item, AccountState):
            self.execution.pending.append(item)
            self.execution.process_events()
            if self.records is not None:
                self.records.on_account_state(item)
            for listener in self.account_listeners:
                listener(item)
        elif callable(item):
            item()
        else:
            for kind, handler in self._extra_handlers:
                if isinstance(item, kind):
                    handler(item)
                    break
            else:
                log.error("kernel: nothing handles %r", item)
        self.clock.release()

    def _after_drain(self) -> None:
        self.host.sweep()
        self.host.persist_changed_state()

    # -- life cycle -----------------------------------------------------------------------------
    async def run(self, freeze_gc: bool = False) -> None:
        """Start, trade until asked to stop, stop gracefully.

        ``freeze_gc`` (for a process that exists to run this node): once started, everything
        that exists (libraries, instruments, restored orders) lives as long as the node, so it
        is frozen out of the collector's full scans, which would otherwise walk it again and
        again (pauses of tens of ms in a large process).
        """
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.inbox.bind(self._loop)
        self.inbox.after_drain = self._after_drain
        self._install_signals()
        try:
            await self._start()
            if freeze_gc:
                gc.freeze()
            self.state = "running"
            self.ready.set()
            log.info("node %s running (%s, %s)", self.name, self.mode, self.role)
            await self._stop.wait()
        finally:
            await self._shutdown()

    async def _start(self) -> None:
        for strategy in self.config.strategies if self.role != "gateway" else ():
            self.host.check_change(strategy)  # a bad parameter fails before any I/O
        self._build_venue()  # the venue settings are checked here, before the store opens
        if self.role in ("node", "gateway"):
            self._open_records()
            assert self.records is not None
            stored = self.records.load()
        else:  # the strategy process: its strategies' part of what the gateway recorded
            state_dir = self._state_dir()
            self.journal = Journal(state_dir / "strategy.journal")
            stored = self._gateway_records()
        self.restored = restore(
            stored,
            self.journal.recovered if self.journal is not None else [],
            self.cache,
            self.execution,
            self.portfolio,
        )
        self.host.restored_state = self.restored.states
        if self.sim is not None:
            restore_paper_ledger(self.sim, stored.fills)
        if self.records is not None:
            self.records.start_run(
                self.mode,
                self.config.strategy_ids(),
                [i.id for i in self.instruments],
                _redacted_dict(self.config.to_dict()),
            )
        if self.restored.orders or self.restored.fills:
            self._record(
                "recovery.restored",
                f"restored {self.restored.orders} orders ({len(self.restored.open_orders)} open) "
                f"and {self.restored.fills} fills of run {self.run_id}",
                {"orders": self.restored.orders, "fills": self.restored.fills},
            )
        if self.adapter is not None:
            await self.adapter.connect()
            for spec in self.config.instruments:
                iid = instrument_id(spec.symbol, self.config.venue_name)
                for kind in spec.data if self.role == "node" else ():
                    await self._subscribe_feed(kind, iid)
        if self.sim is not None:
            lost = close_lost_paper_orders(self.restored.open_orders, self.inbox.put)
            if lost:
                self._record(
                    "recovery.paper_orders_closed",
                    f"{lost} paper orders open at the last stop died with the simulated venue",
                    {"orders": lost},
                )
        if self.mode == "live" and self.adapter is not None and self.role in ("node", "gateway"):
            self._make_reconciler()
            await self._reconcile(self.restored.open_orders, "start")
        for hook in self.start_hooks:
            await hook()
        await self._drained()
        self.risk.configure(self.config.risk if self.role != "strategy" else None)
        self.risk.start(self.config.strategy_ids(), self._currency())
        for strategy in self.config.strategies if self.role != "gateway" else ():
            self.host.add(strategy)
        if self.config.recorder.catalog and self.role == "node":
            self.recorder = Recorder(
                self.config.recorder.catalog,
                self._state_dir() / "recorder.spool",
                flush_interval=self.config.recorder.flush_interval,
            )
            self.recording = True  # from the first event the strategies see
        for sid in list(self.host.slots):
            self.host.start(sid)
        self._publish_account()
        await self._drained()
        self._tasks.append(asyncio.create_task(self._run_timers(), name="node-timers"))
        if self.config_path is not None:
            self._tasks.append(asyncio.create_task(self._watch_config(), name="node-config"))
        if self.reconciler is not None:
            self._tasks.append(asyncio.create_task(self._watch_reconnects(), name="node-resync"))

    def request_stop(self) -> None:
        """Ask the node to stop gracefully (safe from any thread and from signal handlers)."""
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._stop.set()
        else:
            loop.call_soon_threadsafe(self._stop.set)

    async def _shutdown(self) -> None:
        self.state = "stopping"
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        policy = self.config.node.on_stop
        for sid, slot in list(self.host.slots.items()):
            if slot.status is StrategyStatus.RUNNING:
                self.host.stop(sid, policy)
        if policy == "cancel" and self.role != "strategy":
            for order in self.cache.open_orders():
                self.execution.cancel(order)
            await self._wait_closed(self.config.node.stop_timeout)
        await self._drained()
        if self.adapter is not None:
            with contextlib.suppress(Exception):
                await self.adapter.disconnect()
        for task in list(self._feed_tasks):
            task.cancel()
        for hook in self.stop_hooks:
            with contextlib.suppress(Exception):
                await hook()
        if self.recorder is not None:
            self.recording = False
            self.recorder.close()
        self._close_records()
        self.state = "stopped"
        self.stopped.set()
        log.info("node %s stopped", self.name)

    def _close_records(self) -> None:
        if self.records is not None:
            try:
                self.records.flush()
                self.records.finish_run(
                    len(self.cache.orders), len(self.execution.fills), self.portfolio.equity()
                )
                self.records.close()
            except TTQuantError as exc:
                log.error("records not fully written: %s", exc)
        if self.journal is not None:
            keep: list[SentOrder | StrategyState] = [
                StrategyState(strategy_id=sid, values=values, ts=time.time_ns())
                for sid, values in self._current_states().items()
            ]
            if self.reconciler is not None:
                keep += [
                    send
                    for cid, send in self.reconciler.sends.items()
                    if (o := self.cache.order(cid)) is not None and not o.is_closed
                ]
            self.journal.compact(keep)
            self.journal.close()

    def _current_states(self) -> dict[str, dict[str, Any]]:
        states = dict(self.restored.states)
        for sid, slot in self.host.slots.items():
            if slot.state_vars:
                states[sid] = {name: getattr(slot.strategy, name, None) for name in slot.state_vars}
        return states

    async def _wait_closed(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.cache.open_orders() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        left = self.cache.open_orders()
        if left:
            log.warning("%d orders still open after %.1f s: %s", len(left), timeout, left)

    async def _drained(self) -> None:
        """Let the loop run until the kernel has handled everything queued so far."""
        for _ in range(1000):
            await asyncio.sleep(0)
            if not len(self.inbox):
                return

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self._loop is None:
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(sig, self.request_stop)
        self._loop.add_signal_handler(
            signal.SIGHUP, lambda: self.inbox.put(lambda: self._spawn(self._reload_logged()))
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.append(task)

    # -- feeds ----------------------------------------------------------------------------------
    def _ensure_feed(self, pattern: str) -> None:
        """A strategy subscribed to ``pattern``: make sure the adapter delivers it."""
        if self.adapter is None or self.role != "node" or not pattern.startswith("data."):
            return
        _, kind, rest = pattern.split(".", 2)
        if kind == "bars":
            iid, _, step = rest.rpartition(":")
            request = (f"bars_{step}", iid)
        elif kind in ("quotes", "trades", "books"):
            request = ("book" if kind == "books" else kind, rest)
        else:
            return
        if request in self._feeds or "*" in request[1] or request[1] not in self.cache.instruments:
            return
        task = asyncio.get_running_loop().create_task(self._subscribe_feed(*request))
        self._feed_tasks.add(task)
        task.add_done_callback(self._feed_tasks.discard)

    async def _subscribe_feed(self, kind: str, iid: str) -> None:
        if (kind, iid) in self._feeds or self.adapter is None:
            return
        self._feeds.add((kind, iid))
        if kind == "quotes":
            await self.adapter.subscribe_quotes(iid)
        elif kind == "trades":
            await self.adapter.subscribe_trades(iid)
        elif kind == "book":
            await self.adapter.subscribe_book(iid)
        else:
            await self.adapter.subscribe_bars(BarType(iid, parse_step(kind.removeprefix("bars_"))))

    def _on_stale(self, feed: str, stale: bool) -> None:
        if self.state == "stopping":
            return
        if stale:
            self.stale_feeds.add(feed)
            self.alerts.alert(
                f"feed.stale.{feed}",
                AlertLevel.WARNING,
                f"{feed}: no data: reconnecting",
                source="feed",
            )
        else:
            self.stale_feeds.discard(feed)
        self.host.stale_reason = ", ".join(sorted(self.stale_feeds))

    # -- timers ---------------------------------------------------------------------------------
    async def _run_timers(self) -> None:
        clock = self.clock
        next_tick = 0.0
        next_trim = time.monotonic() + 60.0
        while True:
            now = time.time_ns()
            if clock.next_due <= now:
                self.inbox.put(self._fire_timers)
            if time.monotonic() >= next_tick:  # once a second: the recorder, paper balances
                next_tick = time.monotonic() + 1.0
                if self.recorder is not None:
                    self.recorder.tick()
                self._publish_account()
                if time.monotonic() >= next_trim:
                    next_trim = time.monotonic() + 60.0
                    self.inbox.put(self._trim_memory)
            wait = (clock.next_due - now) / 1e9 if math.isfinite(clock.next_due) else 0.05
            await asyncio.sleep(min(max(wait, 0.0005), 0.05))

    def _trim_memory(self, keep_ns: int = 120 * 10**9, keep_fills: int = 10_000) -> None:
        """Forget what the store holds and nothing needs: orders closed for over ``keep_ns``
        and all but the latest fills. A node trading for weeks stays the size it was after
        two minutes (strategies keep their order ids: the host remembers the last one)."""
        cutoff = time.time_ns() - keep_ns
        orders = self.cache.orders
        old = [cid for cid, o in orders.items() if o.is_closed and o.ts_last < cutoff]
        self.host.remember_order_ids(old)
        for cid in old:
            del orders[cid]
        fills = self.execution.fills
        if len(fills) > keep_fills:
            del fills[: len(fills) - keep_fills]

    def _fire_timers(self) -> None:
        now = time.time_ns()
        while (due := self.clock.pop_due(now)) is not None:
            event, callback = due
            self.clock.hold(event.ts_event)
            try:
                callback(event)
            except Exception as exc:
                self._timer_failed(event, exc)
            self.execution.process_events()

    def _timer_failed(self, event: TimeEvent, exc: Exception) -> None:
        owner = event.name.partition(".")[0]
        slot = self.host.slots.get(owner)
        if slot is None:
            log.exception("timer %s failed", event.name, exc_info=exc)
            return
        self.host.fail(slot, exc, f"timer {event.name}")

    # -- persistence hooks ----------------------------------------------------------------------
    def _save_before_send(self, record: SendRecord) -> None:
        """The adapter's hook: journal the order before its request leaves (raises: not sent)."""
        order = self.cache.order(record.client_order_id)
        if order is None or self.journal is None:
            return
        send = SentOrder.of(order, record.venue_client_id, record.venue)
        self.journal.append(send)
        if self.reconciler is not None:
            self.reconciler.note_send(send)
        else:
            self.restored.sends[send.client_order_id] = send

    def _journal_state(self, strategy_id: str, values: dict[str, Any]) -> None:
        if self.journal is not None:
            self.journal.append(
                StrategyState(strategy_id=strategy_id, values=values, ts=time.time_ns())
            )

    def _paper_balances(self, event: OrderEvent) -> None:
        if type(event) is OrderFilled and self.sim is not None:
            if self.records is not None:
                self.records.balances(self.sim.account, event.ts_event)
            self._publish_account()

    def _publish_account(self) -> None:
        """Tell listeners (the gateway's returns) the paper account, which has no venue to."""
        if self.sim is None or not self.account_listeners:
            return
        account = self.sim.account
        state = AccountState(
            venue=account.venue,
            account_type=account.account_type,
            base_currency=account.base_currency,
            balances={c: (b.total, b.locked) for c, b in account.balances.items()},
            margin_used=self.sim.margin_used(),
            ts_event=time.time_ns(),
        )
        for listener in self.account_listeners:
            listener(state)

    def _record(
        self, kind: str, message: str, payload: dict[str, Any], *, strategy_id: str = ""
    ) -> None:
        log.info("%s: %s", kind, message)
        if self.records is not None:
            self.records.action(kind, message, payload, strategy_id=strategy_id)

    def _on_alert(self, alert: Alert) -> None:
        log.warning("alert %s", alert.text())
        if self.records is not None:
            self.records.alert(alert)

    # -- reconciliation -------------------------------------------------------------------------
    def _make_reconciler(self) -> None:
        assert self.adapter is not None
        self.reconciler = Reconciler(
            adapter=self.adapter,
            cache=self.cache,
            execution=self.execution,
            portfolio=self.portfolio,
            emit=self.inbox.put,
            idle=lambda: not len(self.inbox),
            alerts=self.alerts,
            record=self._record,
            policy=self.config.node.reconcile,
            orphans=self.config.node.orphans,
            baseline=self._baseline_balances,
            submit_flatten=lambda order: self.risk.submit([order]),
        )
        self.reconciler.sends.update(self.restored.sends)
        self.bus.subscribe("events.order.*", self._note_fill, _RECORDS_PRIORITY)

    def _note_fill(self, event: OrderEvent) -> None:
        if type(event) is OrderFilled and self.reconciler is not None:
            self.reconciler.note_fill(event)

    def _baseline_balances(self) -> dict[str, float]:
        """The run's first recorded balance per currency (spot positions are measured from it)."""
        if self.records is None:
            return {}
        return self.records.first_balances(self.config.venue_name)

    async def _reconcile(self, open_orders: list[Order], why: str) -> None:
        assert self.reconciler is not None
        previous = self.state
        self.state = "reconciling"
        self.host.paused_reason = f"reconciling with the venue ({why})"
        try:
            await self.reconciler.reconcile(open_orders)
        except TTQuantError as exc:
            self.alerts.alert(
                "reconcile.failed",
                AlertLevel.CRITICAL,
                f"reconciliation failed: {exc}",
                source="reconciliation",
            )
            self.reconciler.paused_by_policy = f"reconciliation failed: {exc}"
        finally:
            self.host.paused_reason = self.reconciler.paused_by_policy
            self.state = previous

    async def _watch_reconnects(self) -> None:
        assert self.adapter is not None
        seen = self.adapter.order_resyncs
        while True:
            await asyncio.sleep(0.25)
            if self.adapter.order_resyncs != seen:
                seen = self.adapter.order_resyncs
                await self._reconcile([], "reconnect")

    # -- hot reload -----------------------------------------------------------------------------
    async def _watch_config(self) -> None:
        while True:
            await asyncio.sleep(self.config.node.reload_interval)
            if not self.config.node.watch_config:
                continue
            mtime = _mtime(self.config_path)
            if mtime != self._config_mtime:
                self._config_mtime = mtime
                await self._reload_logged()

    async def _reload_logged(self) -> None:
        try:
            await self.reload_config()
        except TTQuantError as exc:
            log.error("config reload refused: %s", exc)
            self.alerts.alert("config.reload", AlertLevel.WARNING, f"reload refused: {exc}")

    async def reload_config(self, path: Path | None = None) -> ReloadPlan:
        """Apply a changed config file: all of it, or (raising ConfigError) none of it."""
        source = path or self.config_path
        if source is None:
            raise ConfigError("this node was not started from a config file")
        new = load_node_config(source, self.mode)
        return self.apply_config(new)

    def apply_config(self, new: NodeConfig) -> ReloadPlan:
        """Diff, validate and apply a new config (on the kernel's loop)."""
        plan = reload_plan(self.config, new)
        if plan.empty:
            return plan
        for path, old, value in plan.differences:
            log.info("config change %s: %r -> %r", path, redacted(old, path), redacted(value, path))
        if plan.refused:
            raise ConfigError(
                f"needs a restart to change: {', '.join(plan.refused)} (nothing was applied)"
            )
        for change in plan.strategies:  # validate first: a bad parameter changes nothing
            if change.config is not None:
                self.host.check_change(change.config)
        for change in plan.strategies:
            if change.action == "remove":
                self.host.remove(change.strategy_id, new.node.on_strategy_error)
            elif change.action == "add":
                assert change.config is not None
                self.host.add(change.config)
                self.host.start(change.strategy_id)
            else:
                assert change.config is not None
                self.host.update(change.config)
        if plan.risk_changed or plan.strategies:
            self.risk.start(new.strategy_ids(), self._currency())
            self.risk.configure(new.risk)
        self.host.on_error = new.node.on_strategy_error
        self.config = new
        if self.reconciler is not None:
            self.reconciler.policy = new.node.reconcile
            self.reconciler.orphans = new.node.orphans
        self._record(
            "config.reloaded",
            f"config reloaded: {len(plan.differences)} changes applied",
            {"changes": [p for p, _, _ in plan.differences]},
        )
        return plan

    # -- helpers --------------------------------------------------------------------------------
    def _currency(self) -> str:
        if self.sim is not None:
            return self.sim.account.base_currency
        return str(self.config.venue.get("base_currency", self.config.paper.base_currency))

    def on_loop(self) -> bool:
        return threading.get_ident() == self._loop_thread


def _bar_types(config: NodeConfig) -> list[BarType]:
    return [
        BarType(instrument_id(spec.symbol, config.venue_name), parse_step(kind[5:]))
        for spec in config.instruments
        for kind in spec.data
        if kind.startswith("bars_")
    ]


def _mtime(path: Path | None) -> float:
    if path is None:
        return 0.0
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _redacted_dict(value: Any, path: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _redacted_dict(v, f"{path}.{k}") for k, v in value.items()}
    return redacted(value, path)


def run_node(config_path: Path, mode: str | None = None) -> TradingNode:
    """Load a config and run its node until SIGINT/SIGTERM; the node, stopped."""
    config = load_node_config(config_path, mode)
    node = TradingNode(config, config_path=config_path)
    asyncio.run(node.run(freeze_gc=True))
    return node
