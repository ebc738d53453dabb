"""Optuna studies over real backtests: values, reproducibility, resume, constraints, pruning."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from tests.conftest import DEMO_DATA

from ttquant.core.errors import ConfigError
from ttquant.engine.config import BacktestConfig, DataConfig, StrategyConfig, VenueConfig
from ttquant.engine.runner import run_backtest
from ttquant.research.distributed import TaskFailure
from ttquant.research.evaluation import Dataset, Outcome, evaluate, load_dataset
from ttquant.research.objectives import PENALTY, Constraints, load_objective
from ttquant.research.optimize import (
    FoldTask,
    SamplerName,
    StudySettings,
    best_trial,
    fold_bounds,
    open_study,
    run_study,
    trial_rows,
)
from ttquant.research.space import SearchSpace, build_space

WEEK = "20240101-20240108"


def config(timerange: str = WEEK) -> BacktestConfig:
    return BacktestConfig(
        data=[DataConfig(file=str(DEMO_DATA), symbol="BTC/USDT")],
        strategies=[StrategyConfig(name="sma_cross")],
        venue=VenueConfig(fee_bps=1.0),
        timerange=timerange,
    )


@pytest.fixture(scope="module")
def week() -> Dataset:
    return load_dataset(config())


def space(text: dict[str, str] | None = None) -> SearchSpace:
    from ttquant.strategy.library.ma_cross import SMACross

    return build_space(
        "sma_cross", SMACross.params_spec, text or {"fast": "5:40", "slow": "50:150"}
    )


def local(dataset: Dataset, calls: list[FoldTask] | None = None):  # type: ignore[no-untyped-def]
    def evaluate_tasks(tasks: Sequence[FoldTask]) -> list[Outcome | TaskFailure]:
        if calls is not None:
            calls.extend(tasks)
        return [evaluate(dataset, t.params, t.start, t.end) for t in tasks]

    return evaluate_tasks


def study(
    dataset: Dataset,
    settings: StudySettings,
    search: SearchSpace | None = None,
    constraints: Constraints | None = None,
    storage: str | None = None,
    fingerprint: dict[str, object] | None = None,
) -> optuna.Study:
    objective = load_objective("sharpe")
    s = open_study(storage, "test", objective, settings, fingerprint or {"run": 1})
    run_study(
        s,
        search or space(),
        objective,
        constraints or Constraints(),
        settings,
        dataset.span(),
        local(dataset),
    )
    return s


def summary(s: optuna.Study) -> list[tuple[int, str, dict[str, object], float | None]]:
    return [(t.number, t.state.name, t.params, t.value) for t in s.trials]


def test_trial_values_are_the_sharpe_of_an_ordinary_backtest(week: Dataset) -> None:
    """Each trial's value equals the Sharpe ratio `ttq backtest` reports for its parameters,
    computed independently from the file and the time range."""
    s = study(week, StudySettings(n_trials=4, seed=1, batch=2))
    for trial in s.trials:
        assert trial.state is TrialState.COMPLETE
        cfg = config()
        cfg.strategies[0].params = dict(trial.params)
        expected = run_backtest(cfg).statistics
        assert trial.value == expected["sharpe"]
        assert trial_rows([trial], space())[0]["n_trades"] == expected["n_trades"]


@pytest.mark.parametrize("sampler", ["tpe", "cmaes", "random"])
def test_the_same_seed_gives_the_same_trials(week: Dataset, sampler: SamplerName) -> None:
    settings = StudySettings(sampler=sampler, n_trials=7, seed=5, batch=3)
    categorical = space({"fast": "5:40", "slow": "50:150", "ma": "sma,ema"})
    a = summary(study(week, settings, categorical))
    b = summary(study(week, settings, categorical))
    assert a == b
    assert len({repr(t[2]) for t in a}) > 1  # the sampler really explores
    other = summary(
        study(week, StudySettings(sampler=sampler, n_trials=7, seed=6, batch=3), categorical)
    )
    assert other != a


def test_a_study_resumes_from_sqlite(week: Dataset, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = summary(study(week, StudySettings(n_trials=5, seed=2), storage=storage))
    resumed = summary(study(week, StudySettings(n_trials=8, seed=2), storage=storage))
    assert len(resumed) == 8 and resumed[:5] == first
    again = summary(study(week, StudySettings(n_trials=8, seed=2), storage=storage))
    assert again == resumed  # nothing left to do
    with pytest.raises(
        ConfigError, match=r"study 'test' in sqlite:.* was made for a different run"
    ):
        study(week, StudySettings(n_trials=9), storage=storage, fingerprint={"run": 2})


def test_interrupted_trials_are_failed_and_replaced(week: Dataset, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    objective = load_objective("sharpe")
    crashed = open_study(storage, "test", objective, StudySettings(), {"run": 1})
    crashed.ask(space().distributions())  # asked, never told: the process "died"
    s = study(week, StudySettings(n_trials=3, seed=0), storage=storage)
    states = [t.state for t in s.trials]
    assert states == [TrialState.FAIL] + [TrialState.COMPLETE] * 3
    assert trial_rows(s.trials, space())[0]["reason"] == "interrupted"


def test_infeasible_and_refused_trials_are_penalized_never_best(week: Dataset) -> None:
    overlapping = space({"fast": "20:60", "slow": "30:70"})  # fast >= slow is refused
    s = study(week, StudySettings(n_trials=12, seed=4), overlapping, Constraints(min_trades=10**6))
    rows = trial_rows(s.trials, overlapping)
    refused = [r for r in rows if r["params_fast"] >= r["params_slow"]]
    assert refused, "the seed must propose some fast >= slow"
    for r in refused:
        assert "must be shorter than slow" in r["reason"] and r["value"] == -2 * PENALTY
    for r in rows:
        assert not r["feasible"] and r["value"] <= -PENALTY
    assert best_trial(s, load_objective("sharpe")) is None


def test_the_best_trial_is_the_best_feasible_one(week: Dataset) -> None:
    s = study(week, StudySettings(n_trials=10, seed=8), constraints=Constraints(min_trades=60))
    rows = trial_rows(s.trials, space())
    feasible = [r for r in rows if r["feasible"]]
    assert feasible and len(feasible) < len(rows)  # the constraint bites on some trials
    best = best_trial(s, load_objective("sharpe"))
    assert best is not None
    assert best.value == max(r["value"] for r in feasible)
    assert all(r["n_trades"] >= 60 for r in feasible)


def test_pruning_skips_the_remaining_folds_of_poor_trials(week: Dataset) -> None:
    settings = StudySettings(n_trials=16, seed=3, batch=2, folds=3, pruner="median")
    calls: list[FoldTask] = []
    objective = load_objective("sharpe")
    s = open_study(None, "pruned", objective, settings, {})
    run_study(s, space(), objective, Constraints(), settings, week.span(), local(week, calls))
    pruned = [t for t in s.trials if t.state is TrialState.PRUNED]
    assert pruned
    assert len(calls) < 16 * 3  # pruned trials really skipped work
    for t in pruned:
        assert max(t.intermediate_values) < 2  # stopped before the last fold
    folds = fold_bounds(*week.span(), 3)
    assert {(c.start, c.end) for c in calls} == set(folds)


def test_failed_evaluations_become_failed_trials(week: Dataset) -> None:
    def broken(tasks: Sequence[FoldTask]) -> list[Outcome | TaskFailure]:
        return [
            TaskFailure("RuntimeError: boom", 3)
            if t.params["fast"] % 2
            else evaluate(week, t.params, t.start, t.end)
            for t in tasks
        ]

    settings = StudySettings(n_trials=6, seed=1)
    objective = load_objective("sharpe")
    s = open_study(None, "x", objective, settings, {})
    outcome = run_study(s, space(), objective, Constraints(), settings, week.span(), broken)
    failed = [t for t in s.trials if t.state is TrialState.FAIL]
    assert failed and [n for n, _ in outcome.failures] == [t.number for t in failed]
    assert all(t.params["fast"] % 2 for t in failed)
    rows = trial_rows(s.trials, space())
    assert {r["reason"] for r in rows if r["state"] == "fail"} == {"RuntimeError: boom"}


def test_bad_settings() -> None:
    for kwargs, message in (
        ({"sampler": "grid"}, "--sampler must be tpe, cmaes or random"),
        ({"n_trials": 0}, "--trials must be at least 1"),
        ({"batch": 0}, "--batch must be at least 1"),
        ({"folds": 0}, "--folds must be at least 1"),
        ({"pruner": "hyper"}, "--pruner must be median or none"),
    ):
        with pytest.raises(ConfigError, match=message):
            StudySettings(**kwargs)
