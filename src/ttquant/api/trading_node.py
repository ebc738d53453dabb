"""The API attached to a real :class:`~ttquant.engine.node.TradingNode` (``ttq serve --node``).

The node runs its asyncio loop on a thread of its own, exactly as ``ttq node run`` runs it,
so a slow request or the API's own loop never delays a market event. Every kernel-level read
and command of :class:`~ttquant.api.kernel_node.KernelNodeHandle` is reused, but marshalled onto
the node's loop through ``node.control`` instead of racing it under a lock; node and strategy
control go to ``node.control`` (start/stop/pause strategies, hot parameters, pause, reload).

Once the node has stopped (``POST /node/stop``, or a failure) its kernel is idle: reads answer
from it directly and commands are refused with 409.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from ttquant.api import schemas
from ttquant.api.kernel_node import KernelNodeHandle, plain_data
from ttquant.api.node import NodeCommandError, Publish
from ttquant.core.bus import MessageBus
from ttquant.core.errors import ConfigError, TTQuantError
from ttquant.engine.node import TradingNode
from ttquant.engine.strategy_host import StrategyHost, StrategyInfo
from ttquant.model.cache import Cache
from ttquant.monitor.health import NodeHealth
from ttquant.monitor.metrics import Metrics
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.engine import RiskEngine
from ttquant.strategy.strategy import Strategy

T = TypeVar("T")
START_TIMEOUT_S = 60.0  # connecting, restoring and (live) reconciling before strategies run


class _HostedStrategies(Sequence[Strategy]):
    """The node's strategies as they are now (they come and go at run time)."""

    def __init__(self, host: StrategyHost) -> None:
        self._host = host

    def __getitem__(self, index: Any) -> Any:
        return [slot.strategy for slot in self._host.slots.values()][index]

    def __len__(self) -> int:
        return len(self._host.slots)


class _NodeKernel:
    """The node's kernel parts under the names :class:`KernelNodeHandle` reads."""

    def __init__(self, node: TradingNode) -> None:
        self.bus: MessageBus = node.bus
        self.cache: Cache = node.cache
        self.portfolio: Portfolio = node.portfolio
        self.risk: RiskEngine = node.risk
        self.strategies: Sequence[Strategy] = _HostedStrategies(node.host)


class TradingNodeHandle(KernelNodeHandle):
    def __init__(self, node: TradingNode) -> None:
        super().__init__(_NodeKernel(node), mode=node.mode, name=node.name)
        self.node = node

    # -- marshalling ----------------------------------------------------------------------------
    def _read(self, fn: Callable[[], T]) -> T:
        if self.node.state != "running" and self.node.stopped.is_set():
            return fn()  # the loop is gone: nothing else touches the kernel
        return self.node.control.call(fn)

    def _command(self, fn: Callable[[], T]) -> T:
        if self.node.state != "running":
            raise NodeCommandError(409, f"the trading node is {self.node.state}")
        try:
            return self.node.control.call(fn)
        except ConfigError as exc:
            raise NodeCommandError(422, str(exc)) from None

    # -- streaming and metrics ------------------------------------------------------------------
    def attach(self, publish: Publish) -> None:
        self._read(functools.partial(super().attach, publish))

    def snapshot(self, topic: str, account: str | None) -> Any:
        return self._read(functools.partial(super().snapshot, topic, account))

    def bind_metrics(self, metrics: Metrics) -> None:
        self._read(functools.partial(super().bind_metrics, metrics))

    def sample_metrics(self) -> None:
        if self.node.state == "running":
            self._read(super().sample_metrics)

    # -- reads ----------------------------------------------------------------------------------
    def health(self) -> NodeHealth:
        venue = self.node.config.venue_name
        running = self.node.state == "running"
        return NodeHealth(venues_connected={venue: running and not self.node.stale_feeds})

    def status(self) -> schemas.NodeStatusOut:
        def get() -> schemas.NodeStatusOut:
            reducing = any(h.rule == "MANUAL_REDUCING" for h in self.node.risk.holds())
            return schemas.NodeStatusOut(
                state=self.node.state,
                mode=self.mode,  # type: ignore[arg-type]  # paper or live
                trader_id=self.name,
                started_ns=self._started_ns,
                entries_paused=reducing or bool(self.node.host.paused_reason),
            )

        return self._read(get)

    def strategies(self) -> list[schemas.StrategyOut]:
        return self._read(lambda: [self._strategy_out(i) for i in self.node.host.info()])

    def positions(self, account: str | None) -> list[schemas.PositionOut]:
        return self._read(functools.partial(super().positions, account))

    def orders(self, account: str | None, open_only: bool) -> list[schemas.OrderOut]:
        return self._read(functools.partial(super().orders, account, open_only))

    def fills(self, account: str | None, limit: int) -> list[schemas.FillOut]:
        return self._read(functools.partial(super().fills, account, limit))

    def balances(self, account: str | None) -> list[schemas.BalanceOut]:
        return self._read(functools.partial(super().balances, account))

    def pnl(self, account: str | None) -> schemas.PnlOut:
        return self._read(functools.partial(super().pnl, account))

    def risk(self) -> schemas.RiskOut:
        return self._read(super().risk)

    def reconciliation(self) -> schemas.ReconciliationOut:
        """Paper has no venue ledger to diverge from; live reports the reconciler's verdict."""
        reconciler = self.node.reconciler
        if reconciler is None:
            return super().reconciliation()
        problem = reconciler.paused_by_policy
        return schemas.ReconciliationOut(
            ok=not problem,
            last_run_ns=None,
            mismatches=[{"message": problem}] if problem else [],
        )

    # -- commands -------------------------------------------------------------------------------
    def control(self, action: str) -> schemas.NodeStatusOut:
        control = self.node.control
        if action == "start":
            raise NodeCommandError(409, f"the trading node is {self.node.state}")
        if action == "stop":
            control.stop()
            self.node.stopped.wait(control.timeout)
        elif action == "reload-config":
            self._command(control.reload_config)
        elif action == "resume-entries":
            self._command(functools.partial(super().control, action))
            self._command(control.resume)
        else:  # pause-entries: reduce-only for strategies and manual orders alike
            self._command(functools.partial(super().control, action))
        return self.status()

    def strategy_action(self, strategy_id: str, action: str) -> schemas.StrategyOut:
        """``pause`` stops the strategy but keeps its working orders; ``stop`` cancels them."""
        self._known(strategy_id)
        control = self.node.control
        if action == "start":
            self._command(lambda: control.start_strategy(strategy_id))
        else:
            orders = "keep" if action == "pause" else "cancel"
            self._command(lambda: control.stop_strategy(strategy_id, orders))
        return self._known(strategy_id)

    def patch_params(self, strategy_id: str, params: dict[str, Any]) -> schemas.StrategyOut:
        """Apply like an edited config file: in place through ``on_params_changed`` if the
        strategy has it, else by restarting that strategy; fields declared
        ``reloadable=False`` need a node restart and are refused (409) before anything changes."""
        current = self._known(strategy_id)
        fixed = sorted(
            name
            for name, value in params.items()
            if name in current.params
            and name not in current.hot_params
            and value != current.params[name]
        )
        if fixed:
            raise NodeCommandError(409, f"needs a node restart to change: {', '.join(fixed)}")
        host = self.node.host

        def apply() -> None:
            slot = host.slot(strategy_id)
            config = slot.config
            new = msgspec.structs.replace(config, params={**config.params, **params})
            host.check_change(new)
            host.update(new)

        self._command(apply)
        return self._known(strategy_id)

    def submit_order(self, order: schemas.OrderIn, account: str | None) -> schemas.OrderOut:
        return self._command(functools.partial(super().submit_order, order, account))

    def cancel_order(self, client_order_id: str, account: str | None) -> schemas.OrderOut:
        return self._command(functools.partial(super().cancel_order, client_order_id, account))

    def cancel_all(self, account: str | None, instrument_id: str | None) -> int:
        return self._command(functools.partial(super().cancel_all, account, instrument_id))

    def kill_switch(self, active: bool, reason: str) -> schemas.RiskOut:
        return self._command(functools.partial(super().kill_switch, active, reason))

    # -- views ----------------------------------------------------------------------------------
    def _known(self, strategy_id: str) -> schemas.StrategyOut:
        for strategy in self.strategies():
            if strategy.strategy_id == strategy_id:
                return strategy
        raise NodeCommandError(404, f"no strategy {strategy_id!r}")

    def _strategy_out(self, info: StrategyInfo) -> schemas.StrategyOut:
        """On the node's loop (reads the strategy's class)."""
        spec = type(self.node.host.slot(info.id).strategy).params_spec
        return schemas.StrategyOut(
            strategy_id=info.id,
            name=info.name,
            state=info.status.lower(),
            instruments=info.instruments,
            params=plain_data(info.params),
            hot_params=sorted(n for n, s in spec.items() if s.param.reloadable),
        )


class NodeRunner:
    """A trading node on a thread of its own for the life of an API server."""

    def __init__(self, config_path: Path, mode: str | None = None) -> None:
        from ttquant.engine.node_config import load_node_config

        self.node = TradingNode(load_node_config(config_path, mode), config_path=config_path)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="trading-node", daemon=True)

    def start(self, timeout: float = START_TIMEOUT_S) -> TradingNodeHandle:
        """Start the node and return its handle once its strategies run (or raise why not)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.node.ready.wait(0.05):
            if not self._thread.is_alive():
                if isinstance(self.error, TTQuantError):
                    raise self.error
                raise ConfigError(f"the trading node failed to start: {self.error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"the trading node did not start within {timeout:g} s")
        return TradingNodeHandle(self.node)

    def _run(self) -> None:
        try:
            asyncio.run(self.node.run())
        except BaseException as exc:  # reported on the caller's thread
            self.error = exc

    def stop(self, timeout: float = 60.0) -> None:
        """Stop gracefully (strategies stopped, orders per ``on_stop``, records flushed)."""
        self.node.request_stop()
        self._thread.join(timeout)
