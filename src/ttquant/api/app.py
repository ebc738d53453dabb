"""Build the API application: routers, middleware, WebSocket hub, metrics, lifecycle.

``create_app(settings, node=...)`` opens the store (creating the token table), starts nothing
yet; uvicorn's lifespan starts the loop-lag probe and binds the WebSocket hub to the server's
loop, and on shutdown cancels running jobs and closes the store.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ttquant.api.auth import (
    Authenticator,
    JwtIssuer,
    Principal,
    Role,
    TokenStore,
    required_role,
)
from ttquant.api.jobs import Job, JobManager
from ttquant.api.node import NODE_TOPICS, NodeHandle
from ttquant.api.routers import auth, jobs, logs, market, runs, system, web
from ttquant.api.routers import node as node_routes
from ttquant.api.routers.jobs import job_out
from ttquant.api.services import Services
from ttquant.api.settings import ApiSettings
from ttquant.api.version import VERSION
from ttquant.api.ws import WsHub
from ttquant.core.errors import ConfigError, StoreError, TTQuantError
from ttquant.monitor.health import LoopLagProbe
from ttquant.monitor.logging import (
    LogBuffer,
    Redactor,
    bind_correlation_id,
    clear_correlation_id,
    get_logger,
)
from ttquant.monitor.metrics import BacktestRunCollector, Metrics, RunStatistics
from ttquant.store.runs import RunRepository
from ttquant.store.store import TradingStore, open_store

API_PREFIX: Final = "/api/v1"
NODE_SAMPLE_S: Final = 1.0
_REQUEST_ID = re.compile(r"^[\w.-]{1,64}$")

log = get_logger("ttquant.api")


def create_app(
    settings: ApiSettings,
    node: NodeHandle | None = None,
    *,
    metrics: Metrics | None = None,
    log_buffer: LogBuffer | None = None,
    redactor: Redactor | None = None,
) -> FastAPI:
    metrics = metrics or Metrics()
    metrics.set_build_info(VERSION, "api")
    store = open_store(settings.store_url)
    tokens = TokenStore(store)
    if settings.admin_token:
        tokens.ensure(settings.admin_token, "admin (from environment)", Role.ADMIN)
    authenticator = Authenticator(tokens, JwtIssuer(settings.jwt_secret, settings.jwt_ttl_s))
    hub = WsHub(
        authenticator,
        heartbeat_s=settings.ws_heartbeat_s,
        queue_size=settings.ws_queue,
        metrics=metrics,
    )
    redactor = redactor or Redactor()
    redactor.add(settings.jwt_secret)
    if store.engine.url.password:
        redactor.add(str(store.engine.url.password))
    if settings.admin_token:
        redactor.add(settings.admin_token)

    def job_changed(job: Job) -> None:
        hub.publish("jobs", job_out(job).model_dump(mode="json"), job.account)

    manager = JobManager(
        slots=settings.job_slots,
        max_queued=settings.max_queued_jobs,
        work_dir=settings.work_dir,
        store_url=settings.store_url or store.engine.url.render_as_string(hide_password=False),
        metrics=metrics,
        on_change=job_changed,
    )
    svc = Services(
        settings=settings,
        store=store,
        tokens=tokens,
        auth=authenticator,
        jobs=manager,
        hub=hub,
        metrics=metrics,
        logs=log_buffer or LogBuffer(),
        redactor=redactor,
        loop_lag=LoopLagProbe(gauge=metrics.event_loop_lag.labels("api")),
        node=node,
    )
    metrics.registry.register(BacktestRunCollector(_recent_runs(store, settings)))
    _add_topics(svc)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        svc.loop_lag.start()
        svc.logs.subscribe(_log_to_hub(hub))
        sampler = None
        if node is not None:
            node.attach(hub.publish)
            node.bind_metrics(metrics)
            sampler = asyncio.get_running_loop().create_task(_sample_node(node))
        log.info("api started", version=VERSION, node=node is not None)
        try:
            yield
        finally:
            if sampler is not None:
                sampler.cancel()
            await svc.loop_lag.stop()
            await asyncio.to_thread(manager.close)
            store.close()

    app = FastAPI(
        title="ttquant API",
        version=VERSION,
        description="Backtests, research jobs, stored runs and the trading node over HTTP "
        "and WebSocket. Authenticate with `Authorization: Bearer <token>`.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = svc
    app.state.auth = authenticator
    for module in (system, auth, runs, jobs, logs, node_routes, market):
        _document_roles(module.router)
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(web.router)  # the dashboard, at /ui/

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.websocket(f"{API_PREFIX}/ws")
    async def websocket(ws: WebSocket) -> None:
        await hub.serve(ws)

    app.add_exception_handler(TTQuantError, _user_error)
    app.add_middleware(RequestContext, metrics=metrics)
    return app


def _document_roles(router: APIRouter) -> None:
    """Put each route's least role in the OpenAPI document as ``x-required-role``."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            role = required_role(route.dependant)
            route.openapi_extra = {**(route.openapi_extra or {}), "x-required-role": role}


async def _sample_node(node: NodeHandle) -> None:
    """Refresh the node's sampled metrics every second, off the event loop."""
    while True:
        try:
            await asyncio.to_thread(node.sample_metrics)
        except Exception:  # a failed sample must not stop the next ones
            log.exception("sampling the node's metrics failed")
        await asyncio.sleep(NODE_SAMPLE_S)


def _add_topics(svc: Services) -> None:
    def jobs_snapshot(principal: Principal) -> list[dict[str, Any]]:
        visible = [j for j in svc.jobs.list() if principal.sees(j.account)]
        return [job_out(j).model_dump(mode="json") for j in visible]

    def logs_snapshot(_: Principal) -> list[dict[str, Any]]:
        return svc.logs.records(limit=100)

    svc.hub.add_topic("jobs", jobs_snapshot)
    svc.hub.add_topic("logs", logs_snapshot, unscoped_only=True)
    node = svc.node
    if node is not None:
        for topic in NODE_TOPICS:
            svc.hub.add_topic(
                topic,
                lambda p, t=topic: node.snapshot(t, p.account),  # type: ignore[misc]
            )


def _log_to_hub(hub: WsHub) -> Any:
    def forward(record: dict[str, Any]) -> None:
        hub.publish("logs", record, None)

    return forward


def _recent_runs(store: TradingStore, settings: ApiSettings) -> Any:
    def runs() -> list[RunStatistics]:
        try:
            recent = RunRepository(store).recent(settings.backtest_metrics_runs)
        except StoreError:
            return []  # a scrape must not fail because the store is away
        return [
            RunStatistics(r.run_id, r.strategy, r.instruments, r.statistics)
            for r in recent
            if r.kind == "backtest"
        ]

    return runs


async def _user_error(_: Request, exc: Exception) -> JSONResponse:
    """A ttquant error that escaped a route: the user's input (422) or the store (503)."""
    status = 503 if isinstance(exc, StoreError) else 422 if isinstance(exc, ConfigError) else 400
    return JSONResponse({"detail": str(exc)}, status_code=status)


class RequestContext:
    """Per HTTP request: a correlation id (``X-Request-ID``), metrics and one access log line.

    Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``: it adds no task per request.
    Metrics are labelled with the route's template (``/api/v1/runs/{run_id}``), never the raw
    path, so label sets stay bounded.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        cid = bind_correlation_id(given if given and _REQUEST_ID.match(given) else None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", cid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.http_requests.labels(method, template, str(status)).inc()
            self.metrics.http_duration.labels(method, template).observe(elapsed)
            level = log.error if status >= 500 else log.info
            level(
                "request",
                method=method,
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 3),
            )
            clear_correlation_id()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None
