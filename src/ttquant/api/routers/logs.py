"""The server's recent log records (the same JSON lines it writes), newest last."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from ttquant.api.auth import ReadOnly
from ttquant.api.schemas import LogsOut, Problem
from ttquant.api.services import Svc, require_unscoped

router = APIRouter(tags=["logs"])

Level = Literal["debug", "info", "warning", "error", "critical"]


@router.get("/logs", response_model=LogsOut, responses={403: {"model": Problem}})
def logs(
    principal: ReadOnly,
    svc: Svc,
    after: Annotated[int, Query(ge=0, description="only records numbered above this")] = 0,
    level: Annotated[Level | None, Query(description="this level and above")] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
) -> LogsOut:
    require_unscoped(principal, "logs")
    records = svc.logs.records(after=after, level=level, limit=limit)
    last = records[-1]["seq"] if records else after
    return LogsOut(records=records, last_seq=last)
