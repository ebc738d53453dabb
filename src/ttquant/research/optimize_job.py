"""``ttq optimize`` end to end: load the data once, run the study, write what it found.

Output folder::

    study.db          the Optuna study (unless --storage names another), resumable
    trials.parquet    one row per trial: number, state, value, objective, feasible, reason,
    trials.csv        params_<name>..., then the trial's statistics
    best.toml         the best parameters as a config: ttq backtest --config best.toml
    best/             the best parameters' full-period backtest (results.json, CSVs, report)
    summary.json      best trial, counts, deflated Sharpe ratio
    report.html       optimization history, parameter importance, parallel coordinates and
                      the best run's tearsheet
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ttquant.analytics.export import write_results
from ttquant.core.errors import TaskError
from ttquant.engine.config import BacktestConfig, dump_config
from ttquant.research.deflated_sharpe import DeflatedSharpe
from ttquant.research.distributed import TaskFailure
from ttquant.research.evaluation import Dataset, Outcome, load_dataset, run, with_params
from ttquant.research.execution import ExecutionSettings, gather
from ttquant.research.objectives import Constraints, Direction, Objective, load_objective
from ttquant.research.optimize import (
    FoldTask,
    StudySettings,
    best_trial,
    evaluate_fold,
    open_study,
    run_study,
    trial_rows,
)
from ttquant.research.optimize_report import write_optimize_report
from ttquant.research.outputs import prepare_folder, write_json, write_table, write_text
from ttquant.research.space import SearchSpace, build_space
from ttquant.research.walkforward import trials_deflated_sharpe

if TYPE_CHECKING:
    import optuna

    from ttquant.engine.runner import BacktestResult

__all__ = ["OptimizeJob", "OptimizeSummary", "run_optimize"]

DEFAULT_STUDY = "ttq-optimize"


@dataclass(frozen=True, slots=True)
class OptimizeJob:
    config: BacktestConfig  # one strategy; its params are the base the search changes
    out: Path
    params: dict[str, str] = field(default_factory=dict)  # --param NAME=SPEC
    fixed: dict[str, str] = field(default_factory=dict)  # --set NAME=VALUE
    objective: str = "sharpe"
    direction: Direction | None = None
    constraints: Constraints = field(default_factory=Constraints)
    settings: StudySettings = field(default_factory=StudySettings)
    storage: str | None = None
    study_name: str = DEFAULT_STUDY
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)


@dataclass(frozen=True, slots=True)
class OptimizeSummary:
    out: Path
    n_trials: int
    n_feasible: int
    best_number: int | None
    best_value: float | None
    best_params: dict[str, Any] | None
    best_statistics: dict[str, Any] | None
    deflated_sharpe: DeflatedSharpe | None
    executor: str


def run_optimize(job: OptimizeJob) -> OptimizeSummary:
    """Run (or resume) the study and write every output; see the module docstring.

    Raises :class:`TaskError` after writing the outputs when trials failed.
    """
    dataset = load_dataset(job.config)
    strategy = dataset.strategy.name
    space = build_space(strategy, dataset.strategy_class.params_spec, job.params, job.fixed)
    objective = load_objective(job.objective, job.direction)
    out = prepare_folder(job.out)
    storage = job.storage or f"sqlite:///{(out / 'study.db').resolve()}"
    study = open_study(storage, job.study_name, objective, job.settings, _fingerprint(job, space))
    settings = job.settings
    span = dataset.span()
    executor = job.execution.executor(
        n_tasks=settings.n_trials * settings.folds, work=settings.n_trials * dataset.n_bars()
    )
    console = Console(stderr=True)
    try:
        with Progress(
            TextColumn(f"optimize ({executor.description})"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not (job.execution.progress and console.is_terminal),
        ) as bar:
            task = bar.add_task("trials", total=settings.n_trials)

            def evaluate_tasks(tasks: Sequence[FoldTask]) -> list[Outcome | TaskFailure]:
                return gather(executor, evaluate_fold, dataset, tasks)

            outcome = run_study(
                study,
                space,
                objective,
                job.constraints,
                settings,
                span,
                evaluate_tasks,
                on_trial=lambda _: bar.advance(task),
            )
    finally:
        executor.close()
    summary = _write_outputs(job, dataset, study, space, objective, out, executor.description)
    if outcome.failures:
        number, error = outcome.failures[0]
        raise TaskError(
            f"{len(outcome.failures)} trial(s) failed after {executor.max_retries + 1} "
            f"attempt(s) each (first: trial {number}: {error}); the study is saved in {storage}: "
            "run the same command again to add trials in their place"
        )
    return summary


def _fingerprint(job: OptimizeJob, space: SearchSpace) -> dict[str, Any]:
    """What a resumed study must share with the one it continues (JSON-able)."""
    config = msgspec.structs.replace(job.config, out=None)
    return {
        "config": config.to_dict(),
        "space": [dataclasses.asdict(d) for d in space.dimensions],
        "fixed": {k: repr(v) for k, v in space.fixed.items()},
        "objective": job.objective,
        "direction": job.direction,
        "constraints": [job.constraints.min_trades, job.constraints.max_drawdown_pct],
        "folds": job.settings.folds,
        "sampler": job.settings.sampler,
    }


def _write_outputs(
    job: OptimizeJob,
    dataset: Dataset,
    study: optuna.Study,
    space: SearchSpace,
    objective: Objective,
    out: Path,
    executor: str,
) -> OptimizeSummary:
    trials = study.get_trials(deepcopy=False)
    rows = trial_rows(trials, space)
    write_table(out, "trials", rows)
    best = best_trial(study, objective)
    result: BacktestResult | None = None
    dsr = None
    params = None
    if best is not None:
        params = space.params(best.params)
        config = msgspec.structs.replace(with_params(job.config, params), out=None)
        write_text(out / "best.toml", dump_config(config))
        result = run(dataset, params)
        write_results(result, out / "best")
        sharpes = [r["sharpe"] for r in rows if isinstance(r.get("sharpe"), float)]
        evaluated = sum(r["state"] in ("complete", "pruned") for r in rows)
        dsr = trials_deflated_sharpe(result.curve.ts, result.curve.equity, sharpes, evaluated)
    n_feasible = sum(r["state"] == "complete" and r["feasible"] for r in rows)
    summary = OptimizeSummary(
        out=out,
        n_trials=len(rows),
        n_feasible=n_feasible,
        best_number=None if best is None else best.number,
        best_value=None if best is None else best.value,
        best_params=params,
        best_statistics=None if result is None else dict(result.statistics),
        deflated_sharpe=dsr,
        executor=executor,
    )
    write_json(out / "summary.json", _summary_document(summary, objective, job))
    write_optimize_report(out / "report.html", rows, space, objective, study, result, dsr)
    return summary


def _summary_document(
    summary: OptimizeSummary, objective: Objective, job: OptimizeJob
) -> dict[str, Any]:
    dsr = summary.deflated_sharpe
    return {
        "objective": objective.name,
        "direction": objective.direction,
        "constraints": {
            "min_trades": job.constraints.min_trades,
            "max_drawdown_pct": job.constraints.max_drawdown_pct,
        },
        "trials": summary.n_trials,
        "feasible_trials": summary.n_feasible,
        "best": None
        if summary.best_number is None
        else {
            "number": summary.best_number,
            "value": summary.best_value,
            "params": summary.best_params,
            "full_period_statistics": summary.best_statistics,
        },
        "deflated_sharpe": None if dsr is None else dsr.as_dict(),
        "executor": summary.executor,
    }
