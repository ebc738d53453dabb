"""Stored runs: browse, open one (statistics, equity, fills), compare two."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from ttquant.api.auth import ReadOnly
from ttquant.api.schemas import (
    CompareOut,
    ConfigChangeOut,
    EquityOut,
    FillOut,
    Problem,
    Responses,
    RunOut,
    RunSummary,
    StatisticChangeOut,
)
from ttquant.api.services import Svc
from ttquant.core.errors import StoreError
from ttquant.store.runs import Run, RunRepository, compare, config_differences

router = APIRouter(prefix="/runs", tags=["runs"])

RunId = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{4,12}$", description="a run id or its prefix")]
RunRef = Annotated[str, Query(pattern=r"^[0-9a-fA-F]{4,12}$")]
_404: Responses = {
    404: {"model": Problem, "description": "no such run (or the prefix is ambiguous)"}
}


@router.get("", response_model=list[RunSummary])
def list_runs(
    _: ReadOnly,
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    strategy: Annotated[str | None, Query(max_length=100)] = None,
) -> list[RunSummary]:
    """The newest runs first, optionally only those of a strategy."""
    runs = RunRepository(svc.store).recent(limit, strategy)
    return [RunSummary.model_validate(_fields(r)) for r in runs]


@router.get("/compare", response_model=CompareOut, responses=_404)
def compare_runs(_: ReadOnly, svc: Svc, a: RunRef, b: RunRef) -> CompareOut:
    """Statistics side by side (b - a where both are numbers) and the config differences."""
    repo = RunRepository(svc.store)
    run_a, run_b = _get(repo, a), _get(repo, b)
    return CompareOut(
        a=RunSummary.model_validate(_fields(run_a)),
        b=RunSummary.model_validate(_fields(run_b)),
        statistics=[
            StatisticChangeOut(key=c.key, a=c.a, b=c.b, delta=c.delta)
            for c in compare(run_a, run_b)
        ],
        config=[
            ConfigChangeOut(path=p, a=x, b=y)
            for p, x, y in config_differences(run_a.config, run_b.config)
        ],
    )


@router.get("/{run_id}", response_model=RunOut, responses=_404)
def get_run(run_id: RunId, _: ReadOnly, svc: Svc) -> RunOut:
    return RunOut.model_validate(_fields(_get(RunRepository(svc.store), run_id)))


@router.get("/{run_id}/equity", response_model=EquityOut, responses=_404)
def run_equity(
    run_id: RunId,
    _: ReadOnly,
    svc: Svc,
    points: Annotated[int, Query(ge=2, le=100_000, description="at most this many points")] = 2000,
) -> EquityOut:
    """The equity curve, thinned to at most ``points`` evenly spaced samples (last one kept)."""
    repo = RunRepository(svc.store)
    run = _get(repo, run_id)
    ts, equity = repo.equity(run.run_id)
    if len(ts) > points:
        step = -(-len(ts) // points)
        keep = [*range(0, len(ts) - 1, step), len(ts) - 1]
        ts, equity = ts[keep], equity[keep]
    return EquityOut(run_id=run.run_id, ts_ns=ts.tolist(), equity=equity.tolist())


@router.get("/{run_id}/fills", response_model=list[FillOut], responses=_404)
def run_fills(
    run_id: RunId,
    _: ReadOnly,
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> list[FillOut]:
    repo = RunRepository(svc.store)
    fills = repo.fills(_get(repo, run_id).run_id)[:limit]
    return [
        FillOut(
            trade_id=f.trade_id,
            client_order_id=f.client_order_id,
            venue_order_id=f.venue_order_id,
            strategy_id=f.strategy_id,
            instrument_id=f.instrument_id,
            side=f.side.name.lower(),
            qty=f.last_qty,
            price=f.last_px,
            commission=f.commission,
            commission_currency=f.commission_currency,
            liquidity_side=f.liquidity_side.name.lower(),
            ts_event=f.ts_event,
        )
        for f in fills
    ]


def _get(repo: RunRepository, run_id: str) -> Run:
    try:
        return repo.get(run_id)
    except StoreError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None


def _fields(run: Run) -> dict[str, object]:
    return {name: getattr(run, name) for name in Run.__dataclass_fields__}
