"""Strategies inside a running node: started, stopped, reloaded and isolated one by one.

Each strategy gets its own view of the kernel:

* a :class:`StrategyBus` that wraps every handler it subscribes (its callbacks, its indicators,
  its stop manager) so that an exception is caught *at that strategy*: the strategy is stopped,
  its open orders are handled per ``on_strategy_error`` (cancel, keep, or flatten), an alert is
  raised, and the other strategies never notice;
* a :class:`StrategyCommands` gate in front of the risk engine that refuses new orders while the
  strategy is stopped or the node is paused (reconciling, or paused by policy). Refusals come
  back as ``OrderDenied`` like any pre-trade denial; cancels always pass.

Strategies may declare variables to persist (``state_vars = ("entries",)``): after each batch of
events the host journals those whose values changed, and a restarted node puts them back before
``on_start``. Initialise them in ``__init__``, not in ``on_start``.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec

from ttquant.core.bus import Handler, MessageBus
from ttquant.core.errors import ConfigError
from ttquant.engine.config import StrategyConfig
from ttquant.engine.live_data import NodeClock
from ttquant.execution.engine import ExecutionEngine
from ttquant.model.cache import Cache
from ttquant.model.data import BarType
from ttquant.model.enums import OrderSide, OrderType
from ttquant.model.orders import Order
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.alerts import AlertLevel, AlertManager
from ttquant.risk.engine import RiskEngine
from ttquant.strategy.params import resolve_params
from ttquant.strategy.registry import load_strategy_class
from ttquant.strategy.strategy import Strategy

log = logging.getLogger(__name__)

STRATEGY_STOPPED = "STRATEGY_STOPPED"
NODE_PAUSED = "NODE_PAUSED"
STALE_DATA = "STALE_DATA"


class StrategyStatus(StrEnum):
    STOPPED = "STOPPED"  # bound, not (yet, or no longer) receiving events
    RUNNING = "RUNNING"
    FAILED = "FAILED"  # raised in a callback and was stopped


class StrategyBus(MessageBus):
    """The node's bus as one strategy sees it: every handler it subscribes is guarded."""

    def __init__(self, bus: MessageBus, slot: StrategySlot, host: StrategyHost) -> None:
        super().__init__()
        self._bus = bus
        self._slot = slot
        self._host = host
        self._guarded: dict[tuple[str, Handler], Handler] = {}

    def subscribe(self, pattern: str, handler: Handler, priority: int = 0) -> None:
        key = (pattern, handler)
        if key in self._guarded:
            return
        guarded = self._guard(handler)
        self._guarded[key] = guarded
        self._bus.subscribe(pattern, guarded, priority)
        self._host.subscribed(pattern)

    def unsubscribe(self, pattern: str, handler: Handler) -> None:
        guarded = self._guarded.pop((pattern, handler), None)
        if guarded is not None:
            self._bus.unsubscribe(pattern, guarded)

    def unsubscribe_all(self) -> None:
        for (pattern, _), guarded in list(self._guarded.items()):
            self._bus.unsubscribe(pattern, guarded)
        self._guarded.clear()

    @property
    def patterns(self) -> list[str]:
        return sorted({pattern for pattern, _ in self._guarded})

    def has_subscribers(self, topic: str) -> bool:
        return self._bus.has_subscribers(topic)

    def handlers_for(self, topic: str) -> list[Handler]:
        return self._bus.handlers_for(topic)

    def publish(self, topic: str, message: object) -> None:
        self._bus.publish(topic, message)

    def register(self, endpoint: str, handler: Handler) -> None:
        self._bus.register(endpoint, self._guard(handler))

    def send(self, endpoint: str, message: object) -> None:
        self._bus.send(endpoint, message)

    def _guard(self, handler: Handler) -> Handler:
        slot = self._slot
        host = self._host
        name = getattr(handler, "__name__", type(handler).__name__)

        def guarded(message: Any) -> None:
            if slot.status is not StrategyStatus.RUNNING:
                return
            try:
                handler(message)
            except Exception as exc:
                host.fail(slot, exc, name)

        return guarded


class StrategyCommands:
    """A strategy's way to the risk engine, closed while it is stopped or the node is paused."""

    def __init__(self, slot: StrategySlot, host: StrategyHost) -> None:
        self._slot = slot
        self._host = host

    def submit(self, orders: Sequence[Order]) -> None:
        refusal = self._host.refusal(self._slot, orders)
        if refusal is None:
            self._host.risk.submit(orders)
        else:
            self._host.execution.deny(orders, *refusal)

    def cancel(self, order: Order) -> None:
        self._host.risk.cancel(order)

    def modify(
        self,
        order: Order,
        quantity: float | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
    ) -> None:
        refusal = self._host.refusal(self._slot)
        if refusal is None:
            self._host.risk.modify(order, quantity, price, trigger_price)
        else:
            self._host.execution.reject_modify(order, *refusal)


@dataclass(slots=True)
class StrategySlot:
    config: StrategyConfig
    strategy: Strategy
    status: StrategyStatus = StrategyStatus.STOPPED
    error: str = ""
    bus: StrategyBus | None = None
    last_state: bytes = b""

    @property
    def id(self) -> str:
        return self.strategy.id

    @property
    def state_vars(self) -> tuple[str, ...]:
        return tuple(getattr(type(self.strategy), "state_vars", ()))


@dataclass(slots=True)
class StrategyInfo:
    """What the control API reports about one strategy."""

    id: str
    name: str
    status: str
    error: str
    params: dict[str, Any]
    instruments: list[str]
    open_orders: int
    position: dict[str, float] = field(default_factory=dict)


StateSink = Callable[[str, dict[str, Any]], None]


class StrategyHost:
    """The strategies of one node and everything done to them at run time."""

    def __init__(
        self,
        *,
        clock: NodeClock,
        cache: Cache,
        portfolio: Portfolio,
        bus: MessageBus,
        risk: RiskEngine,
        execution: ExecutionEngine,
        alerts: AlertManager,
        venue: str,
        bar_types: list[BarType],
        on_error: str = "cancel",
        on_subscribe: Callable[[str], None] | None = None,
        on_state: StateSink | None = None,
        on_action: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.clock = clock
        self.cache = cache
        self.portfolio = portfolio
        self.bus = bus
        self.risk = risk
        self.execution = execution
        self.alerts = alerts
        self.venue = venue
        self.bar_types = bar_types
        self.on_error = on_error
        self.paused_reason = ""  # non-empty: new orders of every strategy are refused
        self.stale_reason = ""  # non-empty: orders that add to a position are refused
        self.slots: dict[str, StrategySlot] = {}
        self._to_detach: list[StrategySlot] = []  # failed mid-dispatch: unsubscribe afterwards
        self._order_seq_floor: dict[str, int] = {}  # of orders the node no longer keeps
        self.restored_state: dict[str, dict[str, Any]] = {}
        self._on_subscribe = on_subscribe
        self._on_state = on_state
        self._on_action = on_action
        self._flatten_seq = 0

    # -- building -------------------------------------------------------------------------------
    def add(self, config: StrategyConfig, cls: type[Strategy] | None = None) -> StrategySlot:
        """Create and bind a strategy (not started); its id must be new."""
        sid = config.id or config.name
        if sid in self.slots:
            raise ConfigError(f"strategy {sid!r} already exists in this node")
        strategy = self._construct(config, cls)
        slot = StrategySlot(config=config, strategy=strategy)
        self._bind(slot)
        self.slots[sid] = slot
        return slot

    def _construct(self, config: StrategyConfig, cls: type[Strategy] | None) -> Strategy:
        cls = cls or load_strategy_class(config.name)
        instruments = [
            i if "@" in i else f"{i}@{self.venue}" for i in config.instruments
        ] or sorted(self.cache.instruments)
        sid = config.id or config.name
        strategy = cls(strategy_id=sid, instruments=instruments, **config.params)
        for name, value in self.restored_state.get(sid, {}).items():
            if name in getattr(cls, "state_vars", ()):
                setattr(strategy, name, value)
        # order ids continue where this strategy's last run left them (restart, reload)
        strategy._order_seq = self._last_order_seq(sid)
        return strategy

    def _bind(self, slot: StrategySlot) -> None:
        slot.bus = StrategyBus(self.bus, slot, self)
        slot.strategy.bind(
            clock=self.clock,
            cache=self.cache,
            portfolio=self.portfolio,
            bus=slot.bus,
            execution=StrategyCommands(slot, self),
            bar_types=self.bar_types,
        )

    def remember_order_ids(self, client_order_ids: list[str]) -> None:
        """Orders about to be dropped from memory: keep their strategies' last sequence."""
        for cid in client_order_ids:
            sid, _, seq = cid.rpartition("-")
            if seq.isdigit():
                self._order_seq_floor[sid] = max(self._order_seq_floor.get(sid, 0), int(seq))

    def _last_order_seq(self, strategy_id: str) -> int:
        prefix = f"{strategy_id}-"
        last = self._order_seq_floor.get(strategy_id, 0)
        for cid in self.cache.orders:
            if cid.startswith(prefix) and cid[len(prefix) :].isdigit():
                last = max(last, int(cid[len(prefix) :]))
        return last

    # -- life cycle -----------------------------------------------------------------------------
    def start(self, strategy_id: str) -> None:
        slot = self.slot(strategy_id)
        if slot.status is StrategyStatus.RUNNING:
            return
        self.sweep()
        if slot.status is StrategyStatus.FAILED or slot.bus is None:
            slot.bus = None
            self._bind(slot)  # a fresh bus: handlers of the failed run stay gone
        slot.status = StrategyStatus.RUNNING
        slot.error = ""
        self._call(slot, slot.strategy.on_start, "on_start")
        self._pump()

    def stop(self, strategy_id: str, orders: str = "cancel") -> None:
        """Stop a running strategy: ``on_stop``, then its open orders per ``orders``."""
        slot = self.slot(strategy_id)
        if slot.status is StrategyStatus.RUNNING:
            self._call(slot, slot.strategy.on_stop, "on_stop")
        self._detach(
            slot,
            StrategyStatus.STOPPED if slot.status is not StrategyStatus.FAILED else slot.status,
        )
        self._handle_orders(slot, orders)
        self._pump()

    def remove(self, strategy_id: str, orders: str = "cancel") -> None:
        self.stop(strategy_id, orders)
        del self.slots[strategy_id]

    def reload(self, strategy_id: str, config: StrategyConfig | None = None) -> StrategySlot:
        """Replace a strategy with a fresh instance of its (re-imported) class and new config.

        Its orders and positions carry over (they belong to its id); its declared state too.
        Indicators warm up again. On any error the old instance keeps running.
        """
        old = self.slot(strategy_id)
        new_config = config or old.config
        cls = _reimport(new_config.name, type(old.strategy))
        state = {name: getattr(old.strategy, name, None) for name in old.state_vars}
        self.restored_state[strategy_id] = state
        strategy = self._construct(new_config, cls)  # raises before anything changes
        was_running = old.status is StrategyStatus.RUNNING
        if was_running:
            self._call(old, old.strategy.on_stop, "on_stop")
        self._detach(old, StrategyStatus.STOPPED)
        slot = StrategySlot(config=new_config, strategy=strategy)
        self._bind(slot)
        self.slots[strategy_id] = slot
        if was_running:
            self.start(strategy_id)
        return slot

    def check_change(self, config: StrategyConfig) -> None:
        """Raise :class:`ConfigError` if ``config`` can't replace (or add) its strategy now.

        Builds a throwaway instance (every parameter validated) and refuses changes of
        parameters declared ``reloadable=False``, which need a restart of the node.
        """
        strategy = self._construct(config, None)
        slot = self.slots.get(strategy.id)
        if slot is None or type(slot.strategy).name != type(strategy).name:
            return
        specs = type(strategy).params_spec
        fixed = sorted(
            name
            for name, value in strategy.params.items()
            if value != slot.strategy.params.get(name) and not specs[name].param.reloadable
        )
        if fixed:
            raise ConfigError(
                f"strategy {strategy.id!r}: parameter {fixed[0]!r} is not reloadable; "
                "restart the node to change it"
            )

    def update(self, config: StrategyConfig) -> None:
        """Apply a changed ``[[strategies]]`` entry (validated with :meth:`check_change`).

        Only parameters changed and the strategy has ``on_params_changed(changed)``: they are
        set on the running instance and the hook is called. Otherwise the strategy is reloaded
        with the new config (a fresh instance; its indicators warm up again).
        """
        sid = config.id or config.name
        slot = self.slot(sid)
        same_shape = (config.name, config.instruments) == (
            slot.config.name,
            slot.config.instruments,
        )
        hook = getattr(slot.strategy, "on_params_changed", None)
        if not (same_shape and callable(hook) and slot.status is StrategyStatus.RUNNING):
            self.reload(sid, config)
            return
        strategy = slot.strategy
        params = resolve_params(strategy.name, type(strategy).params_spec, config.params)
        changed = {k: v for k, v in params.items() if strategy.params.get(k) != v}
        for name, value in changed.items():
            setattr(strategy, name, value)
        strategy.params = params
        slot.config = config
        self._call(slot, lambda: hook(changed), "on_params_changed")
        self._pump()

    def _detach(self, slot: StrategySlot, status: StrategyStatus, now: bool = True) -> None:
        slot.status = status  # from here on its guarded handlers ignore every message
        if now and slot.bus is not None:
            slot.bus.unsubscribe_all()
        elif slot.bus is not None:
            self._to_detach.append(slot)
        prefix = f"{slot.id}."
        for name in self.clock.timer_names:
            if name.startswith(prefix):
                self.clock.cancel_timer(name)

    def _handle_orders(self, slot: StrategySlot, policy: str) -> None:
        if policy == "keep":
            return
        for order in self.cache.open_orders(slot.id):
            self.execution.cancel(order)
        if policy == "flatten":
            self.flatten(slot.id)

    def flatten(self, strategy_id: str) -> list[Order]:
        """Close the strategy's positions with market orders (through the risk engine)."""
        sent = []
        for pos in self.cache.open_positions(strategy_id):
            inst = pos.instrument
            qty = inst.round_quantity(abs(pos.quantity))
            if qty <= 0:
                continue
            self._flatten_seq += 1
            order = Order(
                client_order_id=f"{strategy_id}-flat-{self.clock.timestamp_ns()}-{self._flatten_seq}",
                strategy_id=strategy_id,
                instrument_id=inst.id,
                side=OrderSide.SELL if pos.quantity > 0 else OrderSide.BUY,
                order_type=OrderType.MARKET,
                quantity=qty,
                exit_reason="flatten",
                ts_init=self.clock.timestamp_ns(),
            )
            self.risk.submit([order])
            sent.append(order)
        return sent

    # -- failures -------------------------------------------------------------------------------
    def fail(self, slot: StrategySlot, exc: BaseException, callback: str) -> None:
        """Isolate a strategy that raised: stop it, handle its orders, alert. Others go on."""
        if slot.status is StrategyStatus.FAILED:
            return
        where = _user_frame(exc)
        message = (
            f"strategy {slot.id!r} raised {type(exc).__name__} in {callback}: {exc}{where}; "
            f"stopped, open orders: {self.on_error}"
        )
        log.error("%s", message, exc_info=exc)
        slot.error = f"{type(exc).__name__} in {callback}: {exc}"
        # the bus may be dispatching to this strategy right now: changing its subscriptions
        # would shift the handler list under the dispatch loop; unsubscribe after it (sweep)
        self._detach(slot, StrategyStatus.FAILED, now=False)
        self._handle_orders(slot, self.on_error)
        self.alerts.alert(f"strategy.failed.{slot.id}", AlertLevel.CRITICAL, message, source="node")
        if self._on_action is not None:
            self._on_action("strategy_failed", slot.id, message)

    def sweep(self) -> None:
        """Unsubscribe strategies that failed during a dispatch (call between events)."""
        while self._to_detach:
            slot = self._to_detach.pop()
            if slot.bus is not None:
                slot.bus.unsubscribe_all()

    def _call(self, slot: StrategySlot, fn: Callable[[], None], name: str) -> None:
        try:
            fn()
        except Exception as exc:
            self.fail(slot, exc, name)

    def _pump(self) -> None:
        if self.execution.pending:
            self.execution.process_events()

    # -- gate -----------------------------------------------------------------------------------
    def refusal(self, slot: StrategySlot, orders: Sequence[Order] = ()) -> tuple[str, str] | None:
        """Why the strategy may not send ``orders`` (or modify an order) now, or None."""
        if slot.status is not StrategyStatus.RUNNING:
            return STRATEGY_STOPPED, f"strategy {slot.id!r} is {slot.status.value.lower()}"
        if self.paused_reason:
            return NODE_PAUSED, f"node paused: {self.paused_reason}"
        if self.stale_reason and not all(self._reduces(o) for o in orders):
            return STALE_DATA, f"market data is stale ({self.stale_reason}): only exits pass"
        return None

    def _reduces(self, order: Order) -> bool:
        """The order can only shrink the strategy's position (an exit while data is stale)."""
        if order.reduce_only:
            return True
        held = self.cache.position(order.strategy_id, order.instrument_id).quantity
        return (
            held != 0.0
            and (held > 0) != (order.side is OrderSide.BUY)
            and (order.quantity <= abs(held) + 1e-12)
        )

    def subscribed(self, pattern: str) -> None:
        if self._on_subscribe is not None:
            self._on_subscribe(pattern)

    # -- state ----------------------------------------------------------------------------------
    def persist_changed_state(self) -> None:
        """Journal the declared variables of strategies whose values changed."""
        if self._on_state is None:
            return
        for slot in self.slots.values():
            names = slot.state_vars
            if not names or slot.status is not StrategyStatus.RUNNING:
                continue
            values = {name: getattr(slot.strategy, name, None) for name in names}
            try:
                encoded = msgspec.msgpack.encode(values)
            except TypeError as exc:
                self.fail(slot, exc, "state_vars (a declared variable cannot be persisted)")
                continue
            if encoded != slot.last_state:
                slot.last_state = encoded
                self._on_state(slot.id, values)

    # -- queries --------------------------------------------------------------------------------
    def slot(self, strategy_id: str) -> StrategySlot:
        try:
            return self.slots[strategy_id]
        except KeyError:
            known = ", ".join(sorted(self.slots)) or "none"
            raise ConfigError(
                f"no strategy {strategy_id!r} in this node (strategies: {known})"
            ) from None

    def info(self) -> list[StrategyInfo]:
        out = []
        for sid, slot in self.slots.items():
            positions = {p.instrument.id: p.quantity for p in self.cache.open_positions(sid)}
            out.append(
                StrategyInfo(
                    id=sid,
                    name=slot.config.name,
                    status=slot.status.value,
                    error=slot.error,
                    params=dict(slot.strategy.params),
                    instruments=list(slot.strategy.instruments),
                    open_orders=len(self.cache.open_orders(sid)),
                    position=positions,
                )
            )
        return out


def _reimport(spec: str, current: type[Strategy]) -> type[Strategy]:
    """The strategy class from its code as it is now on disk."""
    if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
        return load_strategy_class(spec)  # a file is executed afresh on every load
    module = sys.modules.get(current.__module__)
    if module is not None and not current.__module__.startswith("ttquant."):
        importlib.reload(module)
    return load_strategy_class(spec)


def _user_frame(exc: BaseException) -> str:
    """`` at file:line`` of the innermost frame outside ttquant, if any."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if "/ttquant/" not in frame.filename.replace("\\", "/"):
            return f" at {frame.filename}:{frame.lineno}"
    return ""
