"""Optuna search over a strategy's parameters, reproducible and resumable.

How a study runs
----------------
Trials are asked from the sampler in batches of ``batch`` and evaluated together (in this
process or on Ray), then told back in a fixed order. The sequence of trials therefore depends on
the seed and the batch size only, never on how many workers evaluate them or in which order
they finish: the same command gives the same trials on a laptop and on a cluster.

Samplers: ``tpe`` (Optuna's TPE, which also models which trials were infeasible from the
constraint value each trial records), ``cmaes`` (CMA-ES for the numeric dimensions; categorical
ones fall back to a seeded random sampler) and ``random``.

Pruning needs intermediate results, and a backtest has one result at its end. With
``folds = K > 1`` the period is cut into K consecutive time folds, each an independent
backtest; a trial's objective is the mean of its folds' objectives, reported after each fold,
and the ``median`` pruner stops a trial whose running mean is worse than the median of earlier
trials at the same fold, saving its remaining folds. Constraints apply to the folds together
(trades summed, the deepest drawdown). With one fold (the default) nothing can be pruned and
the objective is that of one backtest over the whole period.

Resuming
--------
A study lives in its storage (SQLite by default), is named, and records a fingerprint of what
it optimizes. Running the same command again continues it up to ``n_trials`` finished trials
(complete or pruned); a trial that was running when a previous process died is marked failed and
replaced. A resumed sampler is seeded with ``seed + trials already in the study``, so resuming
from the same point is reproducible too. Resuming with a different strategy, data, objective,
constraints or space is refused.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ttquant.analytics.statistics import StatisticValue
from ttquant.core.errors import ConfigError
from ttquant.research.distributed import TaskFailure
from ttquant.research.evaluation import Dataset, Outcome, evaluate
from ttquant.research.objectives import (
    Constraints,
    Objective,
    Score,
    combine_folds,
    refused,
    score,
)
from ttquant.research.space import SearchSpace

if TYPE_CHECKING:
    import optuna

__all__ = [
    "FoldTask",
    "StudyOutcome",
    "StudySettings",
    "best_trial",
    "evaluate_fold",
    "fold_bounds",
    "is_feasible",
    "open_study",
    "run_study",
    "trial_rows",
]

SamplerName = Literal["tpe", "cmaes", "random"]
PrunerName = Literal["median", "none"]
Statistics = dict[str, StatisticValue]
FINGERPRINT_ATTR = "ttquant_fingerprint"
RESULT_ATTR = "ttquant"


@dataclass(frozen=True, slots=True)
class StudySettings:
    sampler: SamplerName = "tpe"
    n_trials: int = 100
    seed: int = 0
    batch: int = 4
    folds: int = 1
    pruner: PrunerName = "median"

    def __post_init__(self) -> None:
        if self.sampler not in ("tpe", "cmaes", "random"):
            raise ConfigError(f"--sampler must be tpe, cmaes or random, got {self.sampler!r}")
        if self.pruner not in ("median", "none"):
            raise ConfigError(f"--pruner must be median or none, got {self.pruner!r}")
        for flag, value in (("--trials", self.n_trials), ("--batch", self.batch)):
            if value < 1:
                raise ConfigError(f"{flag} must be at least 1, got {value}")
        if self.folds < 1:
            raise ConfigError(f"--folds must be at least 1, got {self.folds}")


@dataclass(frozen=True, slots=True)
class FoldTask:
    """One backtest of a trial: its full parameter set on one time fold ``[start, end)``."""

    params: dict[str, Any]
    start: int
    end: int


def evaluate_fold(dataset: Dataset, task: FoldTask) -> Outcome:
    """A task function (module level, so Ray workers import it rather than unpickle code)."""
    return evaluate(dataset, task.params, task.start, task.end)


Evaluator = Callable[[Sequence[FoldTask]], Sequence[Outcome | TaskFailure]]


@dataclass(slots=True)
class StudyOutcome:
    """What a call of :func:`run_study` added; failed trials are listed, never hidden."""

    evaluated: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)


def fold_bounds(start: int, end: int, folds: int) -> list[tuple[int, int]]:
    """``folds`` consecutive half-open time ranges covering ``[start, end)``."""
    edges = [start + (end - start) * k // folds for k in range(folds + 1)]
    return list(itertools.pairwise(edges))


def open_study(
    storage: str | None,
    name: str,
    objective: Objective,
    settings: StudySettings,
    fingerprint: Mapping[str, Any],
) -> optuna.Study:
    """Create the study, or load it to resume when it was made for the same run."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            direction=objective.direction,
            load_if_exists=True,
        )
    except Exception as exc:  # optuna/SQLAlchemy raise many types for a bad URL or file
        raise ConfigError(f"optuna storage {storage!r}: cannot open it ({exc})") from None
    wanted = json.loads(json.dumps(fingerprint, default=str))  # as the storage returns it
    recorded = study.user_attrs.get(FINGERPRINT_ATTR)
    if recorded is None and not study.trials:
        study.set_user_attr(FINGERPRINT_ATTR, wanted)
    elif recorded != wanted:
        changed = sorted(
            k for k in set(wanted) | set(recorded or {}) if (recorded or {}).get(k) != wanted.get(k)
        )
        raise ConfigError(
            f"study {name!r} in {storage} was made for a different run ({', '.join(changed)} "
            "differ); give another --study-name or --out"
        )
    _fail_interrupted(study)
    finished = sum(t.state.is_finished() for t in study.trials)
    study.sampler = _sampler(settings, settings.seed + finished)
    study.pruner = _pruner(settings)
    return study


def _fail_interrupted(study: optuna.Study) -> None:
    """Trials left running by a process that died: failed, so that new ones replace them."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)


def _sampler(settings: StudySettings, seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    if settings.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(
            seed=seed,
            independent_sampler=optuna.samplers.RandomSampler(seed=seed),
            warn_independent_sampling=False,
        )
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(settings: StudySettings) -> optuna.pruners.BasePruner:
    import optuna

    if settings.pruner == "none" or settings.folds == 1:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)


def run_study(
    study: optuna.Study,
    space: SearchSpace,
    objective: Objective,
    constraints: Constraints,
    settings: StudySettings,
    span: tuple[int, int],
    evaluate_tasks: Evaluator,
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
) -> StudyOutcome:
    """Run trials until the study has ``settings.n_trials`` complete or pruned ones."""
    from optuna.trial import TrialState

    done = (TrialState.COMPLETE, TrialState.PRUNED)
    remaining = settings.n_trials - len(study.get_trials(deepcopy=False, states=done))
    folds = fold_bounds(*span, settings.folds)
    distributions = space.distributions()
    outcome = StudyOutcome()
    while remaining > 0:
        batch = [study.ask(distributions) for _ in range(min(settings.batch, remaining))]
        remaining -= len(batch)
        fold_stats: dict[int, list[Statistics]] = {t.number: [] for t in batch}
        told: list[optuna.trial.FrozenTrial] = []
        alive = batch
        for k, (start, end) in enumerate(folds):
            tasks = [FoldTask(space.params(t.params), start, end) for t in alive]
            survivors = []
            for trial, result in zip(alive, evaluate_tasks(tasks), strict=True):
                stats = fold_stats[trial.number]
                if isinstance(result, TaskFailure):
                    trial.set_user_attr(RESULT_ATTR, {"reason": result.error})
                    told.append(study.tell(trial, state=TrialState.FAIL))
                    outcome.failures.append((trial.number, result.error))
                elif result.statistics is None:
                    _mark(trial, refused(objective, result.refused))
                    told.append(study.tell(trial, objective.penalty(1.0)))
                else:
                    stats.append(result.statistics)
                    if k + 1 < len(folds) and _pruned(trial, objective, stats, k):
                        _mark(trial, score(objective, constraints, stats), combine_folds(stats))
                        told.append(study.tell(trial, state=TrialState.PRUNED))
                    else:
                        survivors.append(trial)
            alive = survivors
        for trial in alive:
            stats = fold_stats[trial.number]
            final = score(objective, constraints, stats)
            _mark(trial, final, combine_folds(stats))
            told.append(study.tell(trial, final.value))
        outcome.evaluated += len(batch)
        if on_trial is not None:
            for frozen in sorted(told, key=lambda t: t.number):
                on_trial(frozen)
    return outcome


def _pruned(trial: optuna.Trial, objective: Objective, stats: list[Statistics], k: int) -> bool:
    """Report the running mean objective after fold ``k``; whether the pruner stops the trial."""
    values = [v for s in stats if (v := objective(s)) is not None]
    if not values:
        return False
    trial.report(sum(values) / len(values), k)
    return trial.should_prune()


def _mark(trial: optuna.Trial, result: Score, statistics: Statistics | None = None) -> None:
    """Record the trial's score and statistics (one attribute: one storage write)."""
    from optuna.samplers import TPESampler

    trial.set_user_attr(
        RESULT_ATTR,
        {
            "objective": result.objective,
            "feasible": result.feasible,
            "reason": result.reason,
            "statistics": statistics,
        },
    )
    if isinstance(trial.study.sampler, TPESampler):  # TPE models feasibility from it
        trial.set_constraint("violation", result.violation)


def is_feasible(trial: optuna.trial.FrozenTrial) -> bool:
    return bool(trial.user_attrs.get(RESULT_ATTR, {}).get("feasible"))


def best_trial(study: optuna.Study, objective: Objective) -> optuna.trial.FrozenTrial | None:
    """The best feasible complete trial (the earliest on a tie), or None."""
    from optuna.trial import TrialState

    best = None
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if not is_feasible(trial) or trial.value is None:
            continue
        if best is None or best.value is None or objective.better(trial.value, best.value):
            best = trial
    return best


def trial_rows(
    trials: Sequence[optuna.trial.FrozenTrial], space: SearchSpace
) -> list[dict[str, Any]]:
    """One flat row per trial: number, state, value and marks, ``params_*``, statistics."""
    rows = []
    for t in trials:
        attrs = t.user_attrs.get(RESULT_ATTR, {})
        value = t.value if t.value is not None and math.isfinite(t.value) else None
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.name.lower(),
            "value": value,
            "objective": attrs.get("objective"),
            "feasible": bool(attrs.get("feasible", False)),
            "reason": attrs.get("reason") or _state_reason(t),
        }
        row.update({f"params_{k}": v for k, v in space.params(t.params).items()})
        row.update(attrs.get("statistics") or {})
        rows.append(row)
    return rows


def _state_reason(trial: optuna.trial.FrozenTrial) -> str:
    from optuna.trial import TrialState

    return "interrupted" if trial.state is TrialState.FAIL else ""
