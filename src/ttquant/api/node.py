"""The one seam between the API and a trading node: :class:`NodeHandle`.

The API never reaches into a node's kernel; it calls these methods and serves what they return.
A node (paper or live, in this process or behind a bridge to another) plugs in by implementing
the protocol and being passed to :func:`ttquant.api.app.create_app`. Until one is attached every
node endpoint answers 503 with :data:`NO_NODE` as its detail.

Account isolation is the handle's job as well as the API's: every read takes the caller's
``account`` (None for a token that sees every account) and returns only that account's rows;
every command takes it too and refuses an order of another account as unknown.

Methods are called from the API's worker threads, possibly at the same time: a handle
serializes access to its kernel (a lock, or by marshalling each call onto the node's own loop).
A handle pushes live changes to WebSocket clients with the ``publish`` callback it is given in
:meth:`NodeHandle.attach`: ``publish(topic, data, account)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

from ttquant.api import schemas
from ttquant.monitor.health import NodeHealth
from ttquant.monitor.metrics import Metrics

NO_NODE: Final = "no trading node is attached to this API server; node endpoints answer once one is"
NODE_TOPICS: Final = ("orders", "fills", "positions", "pnl", "bars", "trades", "alerts")

EVERYONE: Final = "*"  # the account of a delta every client may see (market data, alerts)
# publish(topic, data, account): account None = unscoped tokens only, EVERYONE = all clients
Publish = Callable[[str, Any, str | None], None]


class NodeCommandError(Exception):
    """A command the node refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class NodeHandle(Protocol):
    def attach(self, publish: Publish) -> None:
        """Start pushing changes of :data:`NODE_TOPICS` through ``publish``."""

    def snapshot(self, topic: str, account: str | None) -> Any:
        """The current state of ``topic`` for a WebSocket client's first message."""

    def health(self) -> NodeHealth: ...

    def status(self) -> schemas.NodeStatusOut: ...

    def control(self, action: str) -> schemas.NodeStatusOut:
        """start, stop, pause-entries, resume-entries or reload-config."""

    def strategies(self) -> list[schemas.StrategyOut]: ...

    def strategy_action(self, strategy_id: str, action: str) -> schemas.StrategyOut:
        """start, stop or pause."""

    def patch_params(self, strategy_id: str, params: dict[str, Any]) -> schemas.StrategyOut:
        """Change hot-reloadable parameters; NodeCommandError(409) for the others."""

    def positions(self, account: str | None) -> list[schemas.PositionOut]: ...

    def orders(self, account: str | None, open_only: bool) -> list[schemas.OrderOut]: ...

    def submit_order(self, order: schemas.OrderIn, account: str | None) -> schemas.OrderOut: ...

    def cancel_order(self, client_order_id: str, account: str | None) -> schemas.OrderOut: ...

    def cancel_all(self, account: str | None, instrument_id: str | None) -> int: ...

    def fills(self, account: str | None, limit: int) -> list[schemas.FillOut]: ...

    def balances(self, account: str | None) -> list[schemas.BalanceOut]: ...

    def pnl(self, account: str | None) -> schemas.PnlOut: ...

    def risk(self) -> schemas.RiskOut: ...

    def kill_switch(self, active: bool, reason: str) -> schemas.RiskOut:
        """On: HALTED and every open order canceled. Off: resume."""

    def reconciliation(self) -> schemas.ReconciliationOut: ...

    def bind_metrics(self, metrics: Metrics) -> None:
        """Export the node's trading metrics into ``metrics`` (the API serves them)."""

    def sample_metrics(self) -> None:
        """Refresh the sampled levels (positions, PnL, equity, states); called every second."""
