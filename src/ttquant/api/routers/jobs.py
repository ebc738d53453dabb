"""Jobs: submit a backtest, sweep, walk-forward or data download; poll it; cancel it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status
from fastapi import Path as PathParam

from ttquant.api.auth import Principal, ReadOnly, Trader
from ttquant.api.job_work import decode_config
from ttquant.api.jobs import Job, QueueFullError
from ttquant.api.schemas import JobIn, JobOut, Problem, Responses
from ttquant.api.services import Svc
from ttquant.core.errors import ConfigError

router = APIRouter(prefix="/jobs", tags=["jobs"])

JobId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{12}$")]
_404: Responses = {404: {"model": Problem, "description": "no such job (or not this account's)"}}


@router.post(
    "",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        422: {"model": Problem, "description": "the request is invalid"},
        429: {"model": Problem, "description": "too many jobs waiting"},
    },
)
def submit_job(body: Annotated[JobIn, Body()], principal: Trader, svc: Svc) -> JobOut:
    """Queue a job; it runs in a process of its own when a slot is free (poll GET /jobs/{id})."""
    request = body.model_dump()
    try:
        request = _resolve_paths(request, svc.settings.data_root)
        job = svc.jobs.submit(body.kind, request, principal.account, principal.token_id)
    except QueueFullError as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, detail=str(exc)) from None
    except ConfigError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    return job_out(job)


@router.get("", response_model=list[JobOut])
def list_jobs(principal: ReadOnly, svc: Svc) -> list[JobOut]:
    """Every job this token's account can see, newest first."""
    jobs = [j for j in svc.jobs.list() if principal.sees(j.account)]
    return [job_out(j) for j in sorted(jobs, key=lambda j: j.submitted_ns, reverse=True)]


@router.get("/{job_id}", response_model=JobOut, responses=_404)
def get_job(job_id: JobId, principal: ReadOnly, svc: Svc) -> JobOut:
    return job_out(_visible(svc.jobs.get(job_id), principal, job_id))


@router.delete("/{job_id}", response_model=JobOut, responses=_404)
def cancel_job(job_id: JobId, principal: Trader, svc: Svc) -> JobOut:
    """Cancel a queued or running job (a finished job is returned as it is)."""
    _visible(svc.jobs.get(job_id), principal, job_id)
    job = svc.jobs.cancel(job_id)
    assert job is not None  # it was there a moment ago and jobs are never removed
    return job_out(job)


def _visible(job: Job | None, principal: Principal, job_id: str) -> Job:
    if job is None or not principal.sees(job.account):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no job {job_id!r}")
    return job


def job_out(job: Job) -> JobOut:
    return JobOut(
        job_id=job.job_id,
        kind=job.kind,  # type: ignore[arg-type]  # one of KINDS
        state=job.state,  # type: ignore[arg-type]  # one of STATES
        progress=job.progress,
        submitted_ns=job.submitted_ns,
        started_ns=job.started_ns,
        finished_ns=job.finished_ns,
        account=job.account,
        request=job.request,
        result=job.result,
        error=job.error,
    )


def _resolve_paths(request: dict[str, Any], root: Path | None) -> dict[str, Any]:
    """Check the request and make its file paths absolute, inside ``root`` when one is set.

    The job process runs elsewhere (its own working folder), and a server that sets
    ``--data-root`` lets jobs read and write only under it.
    """
    base = (root or Path.cwd()).resolve()
    if "config" in request:
        config = decode_config(request["config"])
        if not config.data:
            raise ConfigError("config: no [[data]]: a job needs data to run on")
        if not config.strategies:
            raise ConfigError("config: no [[strategies]]: a job needs a strategy")
        for spec in config.data:
            if spec.file:
                spec.file = str(_inside(spec.file, base, root, "data file", must_exist=True))
            if spec.catalog:
                spec.catalog = str(_inside(spec.catalog, base, root, "catalog", must_exist=True))
        for strategy in config.strategies:
            path, sep, cls = strategy.name.rpartition(":")
            if sep and path.endswith(".py"):
                strategy.name = f"{_inside(path, base, root, 'strategy file', True)}:{cls}"
        config.out = None
        request = {**request, "config": config.to_dict()}
    if request.get("kind") == "download":
        request = {**request, "catalog": str(_inside(request["catalog"], base, root, "catalog"))}
    return request


def _inside(text: str, base: Path, root: Path | None, what: str, must_exist: bool = False) -> Path:
    try:
        path = (base / Path(text).expanduser()).resolve()
    except (OSError, RuntimeError, ValueError):
        raise ConfigError(f"{what} {text!r} is not a usable path") from None
    if root is not None and not path.is_relative_to(base):
        raise ConfigError(f"{what} {text!r} is outside the server's data root {base}")
    try:
        exists = path.exists()
    except OSError:
        exists = False
    if must_exist and not exists:
        raise ConfigError(f"{what} {text!r} not found on the server")
    return path
