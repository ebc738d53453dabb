"""What a job process runs: a backtest, sweep, walk-forward or download, reporting over a pipe.

Runs in a child process started by :class:`ttquant.api.jobs.JobManager`, so a long or crashing
job can't stall or take down the API, and cancelling one is terminating its process. The child
sends ``("progress", fraction)`` while it works and ends with ``("result", dict)`` or
``("error", message)``; a child that dies without either is reported by the parent.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

from ttquant.core.errors import ConfigError, TTQuantError
from ttquant.engine.config import BacktestConfig

_PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything a job process needs: picklable, validated by the parent."""

    job_id: str
    kind: str
    request: dict[str, Any]
    store_url: str | None
    out: Path


def decode_config(raw: dict[str, Any]) -> BacktestConfig:
    """A backtest config from its JSON form; a one-line ConfigError naming the bad field."""
    try:
        return msgspec.convert(raw, BacktestConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"config: {exc}") from None


def run_job(spec: JobSpec, conn: Connection) -> None:
    """The job process's entry point."""
    try:
        result = _RUNNERS[spec.kind](spec, _Progress(conn))
    except TTQuantError as exc:
        conn.send(("error", str(exc)))
    except BaseException as exc:  # the job failed, the process must still report it
        traceback.print_exc()
        conn.send(("error", f"internal error: {type(exc).__name__}: {exc}"))
    else:
        conn.send(("result", result))
    finally:
        conn.close()


class _Progress:
    """Sends progress at most every half second: a backtest calls back per chunk of events."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if total > 0 and (now - self._last >= _PROGRESS_EVERY_S or done >= total):
            self._last = now
            self._conn.send(("progress", min(done / total, 1.0)))


def _backtest(spec: JobSpec, progress: _Progress) -> dict[str, Any]:
    from ttquant.analytics.export import write_results
    from ttquant.engine.runner import run_backtest
    from ttquant.store import records

    config = decode_config(spec.request["config"])
    result = run_backtest(config, progress)
    folder = write_results(result, spec.out)
    run_id = None
    if spec.request.get("save", True):
        from ttquant.store.runs import save_backtest

        run_id = save_backtest(result, spec.store_url)
    return {
        "run_id": run_id,
        "results_hash": result.results_hash,
        "final_equity": result.final_equity,
        "n_orders": len(result.orders),
        "n_fills": len(result.fills),
        "statistics": records.json_safe(dict(result.statistics)),
        "out": str(folder),
    }


def _sweep(spec: JobSpec, _progress: _Progress) -> dict[str, Any]:
    from ttquant.research.execution import ExecutionSettings
    from ttquant.research.sweep import SweepJob, run_sweep
    from ttquant.store import records

    r = spec.request
    summary = run_sweep(
        SweepJob(
            config=decode_config(r["config"]),
            out=spec.out,
            grid=r.get("grid", {}),
            fixed=r.get("fixed", {}),
            random=r.get("random"),
            seed=r.get("seed", 0),
            engine=r.get("engine", "auto"),
            objective=r.get("objective", "sharpe"),
            execution=ExecutionSettings(workers=1, progress=False),
        )
    )
    result: dict[str, Any] = records.json_safe(
        {
            "out": str(summary.out),
            "engine": summary.engine,
            "n_combinations": summary.n_combinations,
            "n_feasible": summary.n_feasible,
            "best_params": summary.best_params,
            "best_objective": summary.best_objective,
        }
    )
    return result


def _walkforward(spec: JobSpec, _progress: _Progress) -> dict[str, Any]:
    from ttquant.model.data import parse_step
    from ttquant.research.execution import ExecutionSettings
    from ttquant.research.optimize import StudySettings
    from ttquant.research.walkforward_job import WalkForwardJob, run_walkforward
    from ttquant.store import records

    r = spec.request
    summaries = run_walkforward(
        WalkForwardJob(
            config=decode_config(r["config"]),
            out=spec.out,
            in_sample=parse_step(r["in_sample"]),
            out_of_sample=parse_step(r["out_of_sample"]),
            step=parse_step(r["step"]) if r.get("step") else None,
            anchored=r.get("anchored", False),
            params=r.get("params", {}),
            fixed=r.get("fixed", {}),
            objective=r.get("objective", "sharpe"),
            optimizer=r.get("optimizer", "grid"),
            settings=StudySettings(n_trials=r.get("trials", 50)),
            execution=ExecutionSettings(workers=1, progress=False),
        )
    )
    result: dict[str, Any] = records.json_safe(
        {
            "out": str(spec.out),
            "instruments": [  # one summary per instrument walked forward
                {
                    "instrument": s.instrument,
                    "out": str(s.out),
                    "windows": len(s.windows),
                    "efficiency": s.efficiency,
                    "deflated_sharpe": s.deflated_sharpe,
                    "oos_statistics": s.oos_statistics,
                }
                for s in summaries
            ],
        }
    )
    return result


def _download(spec: JobSpec, _progress: _Progress) -> dict[str, Any]:
    from ttquant.data.catalog import Catalog
    from ttquant.data.download import Downloader
    from ttquant.data.timerange import parse_timerange

    r = spec.request
    start, end = parse_timerange(f"{r['since']}-{r.get('until') or ''}")
    assert start is not None  # the schema requires since
    downloader = Downloader(Catalog(r["catalog"]), r["exchange"], api_url=r.get("api_url"))
    result = downloader.ohlcv(r["symbol"], r.get("timeframe", "1m"), start, end)
    return {
        "instrument": result.instrument,
        "rows": result.rows,
        "requests": result.requests,
        "retries": result.retries,
    }


_RUNNERS = {
    "backtest": _backtest,
    "sweep": _sweep,
    "walkforward": _walkforward,
    "download": _download,
}
