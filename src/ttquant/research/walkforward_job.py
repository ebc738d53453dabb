"""``ttq walkforward`` end to end: optimize each in-sample range, test it out of sample.

Work is sharded into tasks and run by an executor (here or on Ray), results stored as they
arrive so that a rerun of the same command resumes:

1. in-sample: with ``grid``, one task per instrument, window and chunk of ``chunk_size``
   parameter sets; with an Optuna sampler, one task per instrument and window running a whole
   (in-memory, seeded) study;
2. out-of-sample: one task per instrument and window, backtesting the chosen parameters on its
   OOS range.

Instruments: by default the config's data files form one backtest (a pairs strategy trades
two instruments at once). With ``each_instrument`` every data file is walked forward on its
own, with the same strategy and search, in the same run; each gets a subfolder (named after its
symbol) holding the files below, and ``instruments.csv`` compares them.

Output folder::

    windows.parquet / .csv   one row per window: ranges, bars used, chosen parameters,
                             IS and OOS performance, walk-forward efficiency
    trials.parquet / .csv    every in-sample evaluation of every window
    oos_equity.parquet / .csv  the stitched out-of-sample equity (with each sample's window)
    summary.json             efficiency, parameter stability, deflated Sharpe, OOS statistics
    report.html              windows, efficiency, stability and the stitched OOS tearsheet
    tasks.sqlite             finished tasks (what a rerun resumes from)
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np

from ttquant.analytics.export import report_data
from ttquant.analytics.report import ReportTrade
from ttquant.analytics.statistics import StatisticValue, compute_statistics
from ttquant.core.errors import ConfigError
from ttquant.core.time import ns_to_iso
from ttquant.data.bars import infer_step_ns
from ttquant.engine.config import BacktestConfig
from ttquant.engine.runner import trade_arrays
from ttquant.model.position import RoundTrip
from ttquant.research.deflated_sharpe import DeflatedSharpe
from ttquant.research.distributed import ResultStore, Task, job_fingerprint, run_tasks
from ttquant.research.evaluation import Dataset, Outcome, evaluate, load_dataset, run
from ttquant.research.execution import ExecutionSettings
from ttquant.research.objectives import Constraints, Direction, Objective, load_objective, score
from ttquant.research.optimize import (
    FoldTask,
    StudySettings,
    open_study,
    run_study,
)
from ttquant.research.outputs import prepare_folder, write_json, write_table
from ttquant.research.space import SearchSpace, build_space
from ttquant.research.walkforward import (
    Segment,
    Window,
    make_windows,
    parameter_stability,
    stitch,
    trials_deflated_sharpe,
    walk_forward_efficiency,
)
from ttquant.research.walkforward_report import WalkForwardReport, write_walkforward_report

__all__ = ["WalkForwardJob", "WalkForwardSummary", "run_walkforward"]

Optimizer = Literal["grid", "tpe", "cmaes", "random"]
Statistics = dict[str, StatisticValue]
Evaluated = tuple[dict[str, Any], Outcome]


@dataclass(frozen=True, slots=True)
class WalkForwardJob:
    config: BacktestConfig
    out: Path
    in_sample: int  # ns
    out_of_sample: int  # ns
    step: int | None = None  # ns; default: the out-of-sample length
    anchored: bool = False
    params: dict[str, str] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)
    objective: str = "sharpe"
    direction: Direction | None = None
    constraints: Constraints = field(default_factory=Constraints)
    optimizer: Optimizer = "grid"
    settings: StudySettings = field(default_factory=lambda: StudySettings(n_trials=50))
    chunk_size: int = 16
    max_combinations: int = 10_000
    each_instrument: bool = False
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)


@dataclass(frozen=True, slots=True)
class WalkForwardSummary:
    instrument: str  # the subfolder's name; "" without each_instrument
    out: Path
    windows: list[dict[str, Any]]
    efficiency: float | None
    oos_statistics: Statistics
    deflated_sharpe: DeflatedSharpe | None
    executor: str


# -- tasks (module level: Ray workers import them) -------------------------------------------

# What every task reads: the data set of each instrument walked forward (one, keyed "", unless
# each instrument is walked on its own). A distributed run ships it to the workers once.
Datasets = dict[str, Dataset]


@dataclass(frozen=True, slots=True)
class GridChunk:
    instrument: str
    window: int
    start: int
    end: int
    params: list[dict[str, Any]]


def evaluate_chunk(datasets: Datasets, chunk: GridChunk) -> list[Evaluated]:
    dataset = datasets[chunk.instrument]
    return [(p, evaluate(dataset, p, chunk.start, chunk.end)) for p in chunk.params]


@dataclass(frozen=True, slots=True)
class WindowSearch:
    instrument: str
    window: int
    start: int
    end: int
    space: SearchSpace
    objective: str
    direction: Direction | None
    constraints: Constraints
    settings: StudySettings
    seed: int


def search_window(datasets: Datasets, task: WindowSearch) -> list[Evaluated]:
    """A seeded in-memory Optuna study on one in-sample range; every evaluation it made."""
    dataset = datasets[task.instrument]
    objective = load_objective(task.objective, task.direction)
    settings = dataclasses.replace(task.settings, seed=task.seed)
    study = open_study(None, "window", objective, settings, {})
    evaluated: list[Evaluated] = []

    def evaluate_tasks(tasks: Sequence[FoldTask]) -> list[Outcome]:
        outcomes = [evaluate(dataset, t.params, t.start, t.end) for t in tasks]
        evaluated.extend((t.params, o) for t, o in zip(tasks, outcomes, strict=True))
        return outcomes

    run_study(
        study,
        task.space,
        objective,
        task.constraints,
        settings,
        (task.start, task.end),
        evaluate_tasks,
    )
    return evaluated


@dataclass(frozen=True, slots=True)
class OosRun:
    instrument: str
    window: Window
    params: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class OosResult:
    statistics: Statistics | None
    segment: Segment
    round_trips: list[RoundTrip]  # for statistics
    trades: list[ReportTrade]  # the same trades, as the report shows them
    refused: str = ""


def evaluate_oos(datasets: Datasets, task: OosRun) -> OosResult:
    """The chosen parameters on the OOS range; flat (out of the market) without parameters."""
    dataset = datasets[task.instrument]
    w = task.window
    cash = dataset.config.venue.cash
    reason = "no feasible parameters in sample"
    if task.params is not None:
        try:
            result = run(dataset, task.params, w.oos_start, w.oos_end)
        except ConfigError as exc:
            reason = str(exc)
        else:
            c = result.curve
            marks = c.marks[next(iter(c.marks))]
            segment = Segment(w, c.ts, c.equity, c.in_market, marks, cash)
            trades = list(report_data(result).trades)
            return OosResult(result.statistics, segment, result.round_trips, trades)
    bars = next(iter(dataset.bars.values())).slice_time(w.oos_start, w.oos_end)
    ts = bars.ts + infer_step_ns(bars.ts)  # bar closes, as a backtest's curve is stamped
    flat = np.full(len(ts), cash)
    segment = Segment(w, ts, flat, np.zeros(len(ts), dtype=bool), bars.close.copy(), cash)
    return OosResult(None, segment, [], [], reason)


# -- the job ----------------------------------------------------------------------------------


def run_walkforward(job: WalkForwardJob) -> list[WalkForwardSummary]:
    """Run (or resume) the walk-forward; one summary per instrument walked (module doc)."""
    datasets = {name: load_dataset(config) for name, config in _instrument_configs(job).items()}
    first = next(iter(datasets.values()))
    space = build_space(
        first.strategy.name, first.strategy_class.params_spec, job.params, job.fixed
    )
    objective = load_objective(job.objective, job.direction)
    windows = {
        name: make_windows(*d.span(), job.in_sample, job.out_of_sample, job.step, job.anchored)
        for name, d in datasets.items()
    }
    out = prepare_folder(job.out)
    is_tasks = [t for name in datasets for t in _in_sample_tasks(job, space, name, windows[name])]
    evaluations = space.grid_size() if job.optimizer == "grid" else job.settings.n_trials
    work = evaluations * sum(
        d.n_bars(w.is_start, w.is_end) for name, d in datasets.items() for w in windows[name]
    )
    executor = job.execution.executor(n_tasks=len(is_tasks), work=work)
    fingerprint = job_fingerprint(_description(job, space))
    progress = job.execution.progress
    try:
        with ResultStore(out / "tasks.sqlite", fingerprint) as store:
            fn = evaluate_chunk if job.optimizer == "grid" else search_window
            shards = run_tasks(
                executor, fn, datasets, is_tasks, store=store, label="in-sample", progress=progress
            )
            in_sample: dict[tuple[str, int], list[Evaluated]] = {
                (name, w.index): [] for name in datasets for w in windows[name]
            }
            for task, shard in zip(is_tasks, shards, strict=True):
                in_sample[task.payload.instrument, task.payload.window].extend(shard)
            chosen = {k: _choose(objective, job.constraints, ev) for k, ev in in_sample.items()}
            oos_tasks = [
                Task(
                    f"{_prefix(name)}oos/{w.index:03d}/{_digest(_params(chosen[name, w.index]))}",
                    OosRun(name, w, _params(chosen[name, w.index])),
                )
                for name in datasets
                for w in windows[name]
            ]
            oos = run_tasks(
                executor,
                evaluate_oos,
                datasets,
                oos_tasks,
                store=store,
                label="out-of-sample",
                progress=progress,
            )
    finally:
        executor.close()
    oos_by = {
        (t.payload.instrument, t.payload.window.index): r
        for t, r in zip(oos_tasks, oos, strict=True)
    }
    summaries = [
        _analyse(
            job,
            name,
            datasets[name],
            space,
            objective,
            windows[name],
            [in_sample[name, w.index] for w in windows[name]],
            [chosen[name, w.index] for w in windows[name]],
            [oos_by[name, w.index] for w in windows[name]],
            prepare_folder(out / name) if name else out,
            executor.description,
        )
        for name in datasets
    ]
    if job.each_instrument:
        write_table(out, "instruments", [_instrument_row(s) for s in summaries])
    return summaries


def _instrument_configs(job: WalkForwardJob) -> dict[str, BacktestConfig]:
    """The config of each instrument walked forward on its own, by folder name."""
    if not job.each_instrument:
        return {"": job.config}
    configs: dict[str, BacktestConfig] = {}
    for spec in job.config.data:
        name = "".join(c if c.isalnum() else "-" for c in spec.symbol).strip("-") or "data"
        while name in configs:
            name += "_"
        configs[name] = msgspec.structs.replace(job.config, data=[spec])
    return configs


def _instrument_row(summary: WalkForwardSummary) -> dict[str, Any]:
    stats = summary.oos_statistics
    dsr = summary.deflated_sharpe
    return {
        "instrument": summary.instrument,
        "windows": len(summary.windows),
        "walk_forward_efficiency": summary.efficiency,
        "deflated_sharpe": None if dsr is None else dsr.probability,
        **{f"oos_{k}": stats.get(k) for k in ("total_return_pct", "annual_return_pct", "sharpe")},
        "oos_max_drawdown_pct": stats.get("max_drawdown_pct"),
        "oos_trades": stats.get("n_trades"),
    }


def _prefix(instrument: str) -> str:
    return f"{instrument}/" if instrument else ""


def _params(chosen: tuple[dict[str, Any], Statistics] | None) -> dict[str, Any] | None:
    return None if chosen is None else chosen[0]


def _in_sample_tasks(
    job: WalkForwardJob, space: SearchSpace, instrument: str, windows: list[Window]
) -> list[Task[Any]]:
    prefix = _prefix(instrument)
    if job.optimizer == "grid":
        size = space.grid_size()
        if size > job.max_combinations:
            raise ConfigError(
                f"the grid has {size:,} parameter sets (more than --max-combinations "
                f"{job.max_combinations:,}); narrow the --param ranges or use --optimizer tpe"
            )
        if job.chunk_size < 1:
            raise ConfigError(f"--chunk-size must be at least 1, got {job.chunk_size}")
        grid = space.grid()
        return [
            Task(
                f"{prefix}is/{w.index:03d}/{k:04d}",
                GridChunk(instrument, w.index, w.is_start, w.is_end, grid[i : i + job.chunk_size]),
            )
            for w in windows
            for k, i in enumerate(range(0, len(grid), job.chunk_size))
        ]
    settings = dataclasses.replace(job.settings, sampler=job.optimizer)
    return [
        Task(
            f"{prefix}is/{w.index:03d}",
            WindowSearch(
                instrument,
                w.index,
                w.is_start,
                w.is_end,
                space,
                job.objective,
                job.direction,
                job.constraints,
                settings,
                job.settings.seed + w.index,
            ),
        )
        for w in windows
    ]


def _choose(
    objective: Objective, constraints: Constraints, evaluated: list[Evaluated]
) -> tuple[dict[str, Any], Statistics] | None:
    """The best feasible evaluation (the first one on a tie), or None."""
    best: tuple[float, dict[str, Any], Statistics] | None = None
    for params, outcome in evaluated:
        if outcome.statistics is None:
            continue
        result = score(objective, constraints, [outcome.statistics])
        if result.feasible and (best is None or objective.better(result.value, best[0])):
            best = (result.value, params, outcome.statistics)
    return None if best is None else (best[1], best[2])


def _digest(params: dict[str, Any] | None) -> str:
    text = repr(sorted(params.items())) if params is not None else "none"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _description(job: WalkForwardJob, space: SearchSpace) -> dict[str, Any]:
    """Everything that decides the results, for the result store's job fingerprint."""
    return {
        "config": msgspec.structs.replace(job.config, out=None).to_dict(),
        "windows": [job.in_sample, job.out_of_sample, job.step, job.anchored],
        "space": repr(space),
        "objective": [job.objective, job.direction],
        "constraints": [job.constraints.min_trades, job.constraints.max_drawdown_pct],
        "optimizer": job.optimizer,
        "settings": repr(job.settings) if job.optimizer != "grid" else None,
        "chunk_size": job.chunk_size,
        "each_instrument": job.each_instrument,
    }


# -- analysis and outputs ---------------------------------------------------------------------


def _analyse(
    job: WalkForwardJob,
    instrument: str,
    dataset: Dataset,
    space: SearchSpace,
    objective: Objective,
    windows: list[Window],
    in_sample: list[list[Evaluated]],
    chosen: list[tuple[dict[str, Any], Statistics] | None],
    oos: list[OosResult],
    out: Path,
    executor: str,
) -> WalkForwardSummary:
    curve = stitch([r.segment for r in oos])
    trades = [t for r in oos for t in r.trades]
    oos_stats = compute_statistics(
        curve.ts,
        curve.equity,
        trade_arrays([t for r in oos for t in r.round_trips]),
        in_market=curve.in_market,
        benchmark=curve.benchmark,
        risk_free_rate=dataset.config.risk_free_rate,
    )
    rows = [
        _window_row(dataset, space, objective, w, c, r, ev)
        for w, c, r, ev in zip(windows, chosen, oos, in_sample, strict=True)
    ]
    is_annual = [r["is_annual_return_pct"] for r in rows if r["is_annual_return_pct"] is not None]
    oos_annual = oos_stats.get("annual_return_pct")
    efficiency = walk_forward_efficiency(
        oos_annual if isinstance(oos_annual, float) else None,
        sum(is_annual) / len(is_annual) if is_annual else None,
    )
    stability = parameter_stability(space.dimensions, [c[0] if c else None for c in chosen])
    all_trials = [(w.index, p, o) for w, ev in zip(windows, in_sample, strict=True) for p, o in ev]
    sharpes = [
        float(s)
        for _, _, o in all_trials
        if o.statistics and isinstance(s := o.statistics.get("sharpe"), float)
    ]
    dsr = trials_deflated_sharpe(curve.ts, curve.equity, sharpes, len(all_trials))
    write_table(out, "windows", rows)
    write_table(out, "trials", [_trial_row(objective, job.constraints, *t) for t in all_trials])
    window_of = np.repeat([w.index for w in windows], np.diff([*curve.seams, curve.ts.size]))
    write_table(
        out,
        "oos_equity",
        [
            {"ts": ns_to_iso(int(t)), "equity": float(e), "window": int(k)}
            for t, e, k in zip(curve.ts, curve.equity, window_of, strict=True)
        ],
    )
    report = WalkForwardReport(
        job_title=f"Walk-forward of {dataset.strategy.name} ({objective.name}, {job.optimizer})",
        dataset=dataset,
        space=space,
        windows=rows,
        stability=stability,
        efficiency=efficiency,
        deflated_sharpe=dsr,
        curve=curve,
        trades=trades,
        statistics=oos_stats,
    )
    write_walkforward_report(out / "report.html", report)
    summary = WalkForwardSummary(
        instrument,
        out,
        rows,
        efficiency,
        oos_stats,
        dsr,
        executor,
    )
    write_json(
        out / "summary.json",
        {
            "windows": len(windows),
            "mode": "anchored" if job.anchored else "rolling",
            "optimizer": job.optimizer,
            "objective": objective.name,
            "walk_forward_efficiency": efficiency,
            "deflated_sharpe": None if dsr is None else dsr.as_dict(),
            "parameter_stability": [
                {
                    "name": s.name,
                    "values": s.values,
                    "mean": s.mean,
                    "std": s.std,
                    "relative_spread": s.relative_spread,
                    "mode": s.mode,
                    "mode_share": s.mode_share,
                }
                for s in stability
            ],
            "oos_statistics": oos_stats,
            "executor": executor,
        },
    )
    return summary


def _window_row(
    dataset: Dataset,
    space: SearchSpace,
    objective: Objective,
    w: Window,
    chosen: tuple[dict[str, Any], Statistics] | None,
    oos: OosResult,
    evaluated: list[Evaluated],
) -> dict[str, Any]:
    is_stats = chosen[1] if chosen else {}
    oos_stats = oos.statistics or {}
    is_bars = [b.slice_time(w.is_start, w.is_end).ts for b in dataset.bars.values()]
    oos_bars = [b.slice_time(w.oos_start, w.oos_end).ts for b in dataset.bars.values()]
    is_annual = _number(is_stats.get("annual_return_pct"))
    oos_annual = _number(oos_stats.get("annual_return_pct"))
    row: dict[str, Any] = {
        "window": w.index,
        "is_start": ns_to_iso(w.is_start),
        "is_end": ns_to_iso(w.is_end),
        "oos_start": ns_to_iso(w.oos_start),
        "oos_end": ns_to_iso(w.oos_end),
        "is_first_bar": ns_to_iso(min(int(t[0]) for t in is_bars if t.size)),
        "is_last_bar": ns_to_iso(max(int(t[-1]) for t in is_bars if t.size)),
        "oos_first_bar": ns_to_iso(min(int(t[0]) for t in oos_bars if t.size)),
        "oos_last_bar": ns_to_iso(max(int(t[-1]) for t in oos_bars if t.size)),
        "trials": len(evaluated),
        "feasible_trials": sum(
            o.statistics is not None and score(objective, Constraints(), [o.statistics]).feasible
            for _, o in evaluated
        ),
        "chosen": chosen is not None,
    }
    row.update({f"params_{n}": (chosen[0].get(n) if chosen else None) for n in space.names})
    row.update(
        {
            "is_objective": objective(is_stats) if chosen else None,
            "is_annual_return_pct": is_annual,
            "is_trades": is_stats.get("n_trades"),
            "is_curve_end": is_stats.get("end"),
            "oos_objective": objective(oos_stats) if oos.statistics else None,
            "oos_annual_return_pct": oos_annual,
            "oos_total_return_pct": _number(oos_stats.get("total_return_pct")),
            "oos_trades": oos_stats.get("n_trades", 0),
            "oos_curve_start": oos_stats.get("start"),
            "efficiency": walk_forward_efficiency(oos_annual, is_annual),
            "note": oos.refused,
        }
    )
    return row


def _trial_row(
    objective: Objective, constraints: Constraints, window: int, params: dict[str, Any], o: Outcome
) -> dict[str, Any]:
    row: dict[str, Any] = {"window": window}
    row.update({f"params_{k}": v for k, v in params.items()})
    if o.statistics is None:
        row.update({"objective": None, "feasible": False, "reason": o.refused})
        return row
    result = score(objective, constraints, [o.statistics])
    row.update(
        {"objective": result.objective, "feasible": result.feasible, "reason": result.reason}
    )
    row.update(o.statistics)
    return row


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
