"""What the routers share: settings, store, auth, jobs, the WebSocket hub, metrics, logs, node.

One :class:`Services` lives on ``app.state.services``; routers get it with the
:func:`services` dependency rather than reaching for module globals, so several apps (tests, a
benchmark) can run in one process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from ttquant.api.auth import Authenticator, Principal, TokenStore
from ttquant.api.jobs import JobManager
from ttquant.api.node import NO_NODE, NodeHandle
from ttquant.api.settings import ApiSettings
from ttquant.api.ws import WsHub
from ttquant.monitor.health import LoopLagProbe
from ttquant.monitor.logging import LogBuffer, Redactor
from ttquant.monitor.metrics import Metrics
from ttquant.store.store import TradingStore


@dataclass(slots=True)
class Services:
    settings: ApiSettings
    store: TradingStore
    tokens: TokenStore
    auth: Authenticator
    jobs: JobManager
    hub: WsHub
    metrics: Metrics
    logs: LogBuffer
    redactor: Redactor
    loop_lag: LoopLagProbe
    node: NodeHandle | None = None


async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def attached_node(request: Request) -> NodeHandle:
    found: Services = request.app.state.services
    node = found.node
    if node is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=NO_NODE)
    return node


def require_unscoped(principal: Principal, what: str) -> None:
    """Process-wide data (logs) is not for tokens scoped to one account."""
    if principal.account is not None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"{what} are process-wide: a token scoped to an account can't read them",
        )


Svc = Annotated[Services, Depends(services)]
Node = Annotated[NodeHandle, Depends(attached_node)]
