"""``ttq sweep``: evaluate every combination of a parameter grid (or a random sample of it).

A sweep is a list of parameter sets, split into chunks; each chunk is one task
``evaluate_chunk(data, chunk)`` run by an executor of :mod:`ttquant.research.distributed`
(in this process, or on Ray with ``--ray-address``), so where the chunks run never changes what
they compute. A chunk is evaluated by the vectorized engine (all its parameter sets as the
columns of one numba kernel call) when the strategy has a vectorized form and the config is one
that engine reproduces, otherwise by the event-driven engine, one backtest per set.

Output folder::

    results.parquet, results.csv   one row per combination: parameters, feasible, objective,
                                   reason, then every statistic of the run
    best.toml                      the best feasible combination as a config:
                                   ttq backtest --config best.toml
    summary.json                   counts, engine, executor, the best combination
    report.html                    objective heatmap, parallel coordinates, the top
                                   combinations and the best run's tearsheet
    tasks.sqlite                   finished chunks, so a rerun runs only the missing ones
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec

from ttquant.analytics.statistics import STATISTICS, StatisticValue
from ttquant.core.errors import ConfigError
from ttquant.engine.config import BacktestConfig, dump_config
from ttquant.research.distributed import ResultStore, Task, job_fingerprint, run_tasks
from ttquant.research.evaluation import Dataset, Outcome, evaluate, load_dataset, with_params
from ttquant.research.execution import ExecutionSettings
from ttquant.research.grid import grid_combinations, random_combinations
from ttquant.research.objectives import Constraints, Direction, load_objective, score
from ttquant.research.outputs import prepare_folder, write_json, write_table, write_text
from ttquant.research.space import SearchSpace, build_space
from ttquant.strategy.params import resolve_params
from ttquant.strategy.strategy import Strategy

__all__ = ["SweepData", "SweepJob", "SweepSummary", "evaluate_chunk", "run_sweep"]

Engine = Literal["auto", "vectorized", "event"]
# Parameter sets per task: a vectorized chunk is one kernel call whose columns run in parallel
# (enough of them to keep every core busy, few enough to bound its trade buffers); an
# event-driven chunk is a few backtests.
VECTORIZED_CHUNK = 64
EVENT_CHUNK = 4
# One bar·combination of the vectorized engine costs about what 1/200 of an event-driven bar
# does; the executor choice (here or on a local Ray instance) weighs work in event-driven bars.
VECTORIZED_WORK_SHARE = 200


@dataclass(frozen=True, slots=True)
class SweepJob:
    """Everything ``ttq sweep`` was asked to do."""

    config: BacktestConfig
    out: Path
    grid: Mapping[str, str] = field(default_factory=dict)  # --grid NAME=SPEC
    fixed: Mapping[str, str] = field(default_factory=dict)  # --set NAME=VALUE
    random: int | None = None  # --random N: a sample of the grid instead of all of it
    seed: int = 0
    engine: Engine = "auto"
    objective: str = "sharpe"
    direction: Direction | None = None
    constraints: Constraints = field(default_factory=Constraints)
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)
    chunk_size: int | None = None


@dataclass(frozen=True, slots=True, eq=False)
class SweepData:
    """What every task reads (a distributed run ships it to the workers once)."""

    dataset: Dataset
    engine: Literal["vectorized", "event"]
    risk_free_rate: float


@dataclass(frozen=True, slots=True)
class SweepSummary:
    out: Path
    engine: str
    executor: str
    n_combinations: int
    n_refused: int
    n_feasible: int
    best_params: dict[str, Any] | None
    best_objective: float | None
    best_statistics: dict[str, StatisticValue] | None


def evaluate_chunk(data: SweepData, chunk: Sequence[Mapping[str, Any]]) -> list[Outcome]:
    """The outcome of each parameter set of ``chunk``, in order: the executors' task."""
    if data.engine == "event":
        return [evaluate(data.dataset, params) for params in chunk]
    from ttquant.research.vectorized.forms import market_of, vectorized_form, venue_settings

    cls = data.dataset.strategy_class
    form = vectorized_form(cls)
    if form is None:
        raise ConfigError(f"strategy {cls.name!r} has no vectorized form")
    config = data.dataset.config
    bars = data.dataset.bars[config.data[0].file]
    batch = form.run(market_of(config, bars), bars, venue_settings(config), chunk)
    return [Outcome(batch.statistics(c, data.risk_free_rate)) for c in range(len(chunk))]


def run_sweep(job: SweepJob) -> SweepSummary:
    """Evaluate the job's parameter sets and write the output folder (module docstring)."""
    objective = load_objective(job.objective, job.direction)
    dataset = load_dataset(job.config)
    cls = dataset.strategy_class
    strategy = dataset.strategy
    fixed = {**strategy.params, **job.fixed}
    space = build_space(strategy.name, cls.params_spec, job.grid, fixed)
    sampled = (
        grid_combinations(space)
        if job.random is None
        else random_combinations(space, job.random, job.seed)
    )
    # every parameter, declared defaults included: what each run (and best.toml) uses
    combos = [resolve_params(strategy.name, cls.params_spec, params) for params in sampled]
    engine = _choose_engine(job.engine, cls, job.config)
    refusals = [_refusal(cls, params) for params in combos]
    runnable = [params for params, why in zip(combos, refusals, strict=True) if not why]
    chunk = job.chunk_size or (VECTORIZED_CHUNK if engine == "vectorized" else EVENT_CHUNK)
    if chunk < 1:
        raise ConfigError(f"--chunk-size must be >= 1, got {chunk}")
    chunks = [runnable[i : i + chunk] for i in range(0, len(runnable), chunk)]
    work = dataset.n_bars() * len(runnable)
    if engine == "vectorized":
        work //= VECTORIZED_WORK_SHARE
    executor = job.execution.executor(len(chunks), work)
    out = prepare_folder(job.out)
    # finished chunks are stored as they arrive: a rerun of the same sweep runs only the rest
    config = msgspec.structs.replace(job.config, out=None).to_dict()
    fingerprint = job_fingerprint({"config": config, "engine": engine, "chunks": chunks})
    try:
        with ResultStore(out / "tasks.sqlite", fingerprint) as store:
            results = run_tasks(
                executor,
                evaluate_chunk,
                SweepData(dataset, engine, job.config.risk_free_rate),
                [Task(f"chunk-{i}", c) for i, c in enumerate(chunks)],
                store=store,
                label="sweep",
                progress=job.execution.progress,
            )
    finally:
        executor.close()
    outcomes = iter([outcome for chunk_outcomes in results for outcome in chunk_outcomes])
    rows: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any], dict[str, StatisticValue]] | None = None
    for params, why in zip(combos, refusals, strict=True):
        outcome = Outcome(None, why) if why else next(outcomes)
        stats = outcome.statistics
        if stats is None:
            rows.append(_row(params, False, None, outcome.refused, None))
            continue
        result = score(objective, job.constraints, [stats])
        rows.append(_row(params, result.feasible, result.objective, result.reason, stats))
        if (
            result.feasible
            and result.objective is not None
            and (best is None or objective.better(result.objective, best[0]))
        ):
            best = (result.objective, params, stats)
    write_table(out, "results", rows)
    if best is not None:
        best_config = msgspec.structs.replace(with_params(job.config, best[1]), out=None)
        write_text(out / "best.toml", dump_config(best_config))
    summary = SweepSummary(
        out=out,
        engine=engine,
        executor=executor.description,
        n_combinations=len(combos),
        n_refused=sum(1 for why in refusals if why),
        n_feasible=sum(1 for r in rows if r["feasible"]),
        best_params=None if best is None else dict(best[1]),
        best_objective=None if best is None else best[0],
        best_statistics=None if best is None else best[2],
    )
    write_json(out / "summary.json", _summary_document(summary, job, space))
    from ttquant.research.sweep_report import write_sweep_report

    write_sweep_report(out / "report.html", job, dataset, space, rows, objective, summary)
    return summary


def _choose_engine(
    wanted: Engine, cls: type[Strategy], config: BacktestConfig
) -> Literal["vectorized", "event"]:
    if wanted == "event":
        return "event"
    if wanted not in ("auto", "vectorized"):
        raise ConfigError(f"--engine must be auto, vectorized or event, got {wanted!r}")
    from ttquant.research.vectorized.forms import unsupported_reason, vectorized_form

    if vectorized_form(cls) is None:
        if wanted == "vectorized":
            raise ConfigError(
                f"strategy {cls.name!r} has no vectorized form (no vectorized_signals); "
                "use --engine event or auto"
            )
        return "event"
    reason = unsupported_reason(config)
    if reason:
        if wanted == "vectorized":
            raise ConfigError(f"--engine vectorized cannot run this config: {reason}")
        return "event"
    return "vectorized"


def _refusal(cls: type[Strategy], params: Mapping[str, Any]) -> str:
    """Why the strategy refuses ``params`` before any run ("" when it accepts them)."""
    check = getattr(cls, "check_params", None)
    if check is None:
        return ""
    try:
        check(params)
    except ConfigError as exc:
        return str(exc)
    return ""


def _row(
    params: Mapping[str, Any],
    feasible: bool,
    objective: float | None,
    reason: str,
    stats: Mapping[str, StatisticValue] | None,
) -> dict[str, Any]:
    row: dict[str, Any] = dict(params)
    row.update(feasible=feasible, objective=objective, reason=reason)
    for spec in STATISTICS:
        value = None if stats is None else stats.get(spec.key)
        row[spec.key] = None if isinstance(value, float) and not math.isfinite(value) else value
    return row


def _summary_document(summary: SweepSummary, job: SweepJob, space: SearchSpace) -> dict[str, Any]:
    return {
        "strategy": job.config.strategies[0].name,
        "engine": summary.engine,
        "executor": summary.executor,
        "objective": job.objective,
        "constraints": {
            "min_trades": job.constraints.min_trades,
            "max_drawdown_pct": job.constraints.max_drawdown_pct,
        },
        "searched": space.names,
        "fixed": dict(space.fixed),
        "sampling": "grid" if job.random is None else f"random {job.random} (seed {job.seed})",
        "n_combinations": summary.n_combinations,
        "n_refused": summary.n_refused,
        "n_feasible": summary.n_feasible,
        "best": None
        if summary.best_params is None
        else {
            "params": summary.best_params,
            "objective": summary.best_objective,
            "statistics": summary.best_statistics,
        },
    }
