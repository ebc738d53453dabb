"""Liveness, readiness and ping: public, so orchestrators and load balancers need no token."""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ttquant.api.schemas import CheckOut, HealthOut, Ping, Responses
from ttquant.api.services import Svc
from ttquant.api.version import VERSION
from ttquant.monitor.health import HealthReport, liveness, readiness
from ttquant.store.store import TradingStore, exception_reason

router = APIRouter(tags=["system"])

_UNHEALTHY: Responses = {503: {"model": HealthOut, "description": "a check failed"}}


@router.get("/ping", response_model=Ping)
def ping() -> Ping:
    return Ping(version=VERSION, time_ns=time.time_ns())


@router.get("/health", response_model=HealthOut, responses=_UNHEALTHY)
async def health(svc: Svc) -> JSONResponse:
    """Alive: the event loop runs callbacks on time."""
    return _answer(liveness(svc.loop_lag.lag_s, svc.settings.health))


@router.get("/ready", response_model=HealthOut, responses=_UNHEALTHY)
async def ready(svc: Svc) -> JSONResponse:
    """Ready: the store answers and, with a node attached, its venues and feeds are live."""
    store_error = await asyncio.to_thread(_store_problem, svc.store)
    node = svc.node.health() if svc.node is not None else None
    report = readiness(svc.loop_lag.lag_s, svc.settings.health, store_error=store_error, node=node)
    return _answer(report)


def _store_problem(store: TradingStore) -> str | None:
    try:
        with store.read() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure means not ready; say why
        return exception_reason(exc)
    return None


def _answer(report: HealthReport) -> JSONResponse:
    body = HealthOut(
        ok=report.ok,
        checks=[CheckOut(name=c.name, ok=c.ok, detail=c.detail) for c in report.checks],
    )
    return JSONResponse(body.model_dump(), status_code=200 if report.ok else 503)
