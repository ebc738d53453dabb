"""The node's control API: a plain Python interface the REST API (or a test) calls.

Every method may be called from any thread. The work itself always runs on the node's kernel
loop, queued behind the events already waiting, so a control action never races a strategy
callback; the caller blocks until it is done and gets its result or its exception.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from ttquant.core.errors import ConfigError
from ttquant.engine.config import StrategyConfig
from ttquant.engine.node_config import ReloadPlan
from ttquant.engine.strategy_host import StrategyInfo

if TYPE_CHECKING:
    from ttquant.engine.node import NodeStatus, TradingNode

T = TypeVar("T")


class NodeControl:
    """Start, stop, add, remove and reload strategies; pause, resume; reload the config."""

    def __init__(self, node: TradingNode, timeout: float = 30.0) -> None:
        self._node = node
        self.timeout = timeout

    # -- queries --------------------------------------------------------------------------------
    def status(self) -> NodeStatus:
        from ttquant.engine.node import NodeStatus

        def get() -> NodeStatus:
            n = self._node
            return NodeStatus(
                name=n.name,
                mode=n.mode,
                role=n.role,
                state=n.state,
                paused=n.host.paused_reason,
                stale_feeds=sorted(n.stale_feeds),
                events=n.inbox.handled,
                kernel_errors=n.inbox.failures,
                reconciliations=n.reconciler.runs if n.reconciler is not None else 0,
                open_orders=len(n.cache.open_orders()),
                fills=len(n.execution.fills),
                equity=n.portfolio.equity(),
            )

        return self._run(get)

    def strategies(self) -> list[StrategyInfo]:
        return self._run(self._node.host.info)

    def strategy(self, strategy_id: str) -> dict[str, Any]:
        infos = {i.id: i for i in self.strategies()}
        if strategy_id not in infos:
            self._node.host.slot(strategy_id)  # raises naming the known ones
        return asdict(infos[strategy_id])

    # -- strategies -----------------------------------------------------------------------------
    def start_strategy(self, strategy_id: str) -> None:
        self._run(lambda: self._node.host.start(strategy_id))

    def stop_strategy(self, strategy_id: str, orders: str = "cancel") -> None:
        _check_policy(orders)
        self._run(lambda: self._node.host.stop(strategy_id, orders))

    def add_strategy(self, config: StrategyConfig | dict[str, Any], start: bool = True) -> str:
        """Add a strategy (the config of a ``[[strategies]]`` entry); returns its id."""
        spec = _strategy_config(config)

        def add() -> str:
            slot = self._node.host.add(spec)
            self._node.risk.start([*self._node.host.slots], self._node._currency())
            if start:
                self._node.host.start(slot.id)
            return slot.id

        return self._run(add)

    def remove_strategy(self, strategy_id: str, orders: str = "cancel") -> None:
        _check_policy(orders)
        self._run(lambda: self._node.host.remove(strategy_id, orders))

    def reload_strategy(self, strategy_id: str, params: dict[str, Any] | None = None) -> None:
        """Restart a strategy from its code as it is now, with ``params`` changed if given."""

        def reload() -> None:
            slot = self._node.host.slot(strategy_id)
            config = slot.config
            if params:
                config = msgspec.structs.replace(config, params={**config.params, **params})
            self._node.host.reload(strategy_id, config)

        self._run(reload)

    # -- node -----------------------------------------------------------------------------------
    def pause(self, reason: str = "paused by operator") -> None:
        """Refuse new orders of every strategy (cancels still pass) until :meth:`resume`."""

        def pause() -> None:
            self._node.host.paused_reason = reason

        self._run(pause)

    def resume(self) -> None:
        def resume() -> None:
            self._node.host.paused_reason = ""
            if self._node.reconciler is not None:
                self._node.reconciler.paused_by_policy = ""

        self._run(resume)

    def reload_config(self) -> ReloadPlan:
        """Re-read the config file and apply all of it, or raise ConfigError and apply none."""
        return self._run_async(self._node.reload_config)

    def stop(self) -> None:
        """Stop the node gracefully (returns at once)."""
        self._node.request_stop()

    # -- plumbing -------------------------------------------------------------------------------
    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the kernel loop and return its result (for callers that read or command
        the kernel's parts directly, such as the REST API's node handle)."""
        return self._run(fn)

    def _run(self, fn: Callable[[], T]) -> T:
        node = self._node
        if node.on_loop():
            return fn()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller's thread
                future.set_exception(exc)

        node.inbox.put_threadsafe(call)
        return future.result(self.timeout)

    def _run_async(self, factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        node = self._node
        if node._loop is None:
            raise ConfigError("the node is not running")
        if node.on_loop():
            raise ConfigError("call the coroutine itself from the node's loop")
        return asyncio.run_coroutine_threadsafe(factory(), node._loop).result(self.timeout)


def _strategy_config(config: StrategyConfig | dict[str, Any]) -> StrategyConfig:
    if isinstance(config, StrategyConfig):
        return config
    try:
        return msgspec.convert(config, StrategyConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"strategy config: {exc}") from None


def _check_policy(orders: str) -> None:
    if orders not in ("cancel", "keep", "flatten"):
        raise ConfigError(f"orders must be cancel, keep or flatten, got {orders!r}")
