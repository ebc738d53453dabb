"""The optimization report: how the search went, what mattered, and the best run's tearsheet."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ttquant.analytics.export import report_data
from ttquant.analytics.report import chart_section, stats_section, tearsheet_sections, write_page
from ttquant.research.deflated_sharpe import DeflatedSharpe
from ttquant.research.objectives import Objective
from ttquant.research.optimize import is_feasible
from ttquant.research.report_parts import (
    fmt,
    history_figure,
    importance_figure,
    parallel_figure,
    table_section,
)
from ttquant.research.space import SearchSpace

if TYPE_CHECKING:
    import optuna

    from ttquant.engine.runner import BacktestResult

__all__ = ["parameter_importances", "write_optimize_report"]

TOP_TRIALS = 20


def write_optimize_report(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    space: SearchSpace,
    objective: Objective,
    study: optuna.Study,
    best: BacktestResult | None,
    dsr: DeflatedSharpe | None,
) -> None:
    maximize = objective.direction == "maximize"
    feasible = [r for r in rows if r["state"] == "complete" and r["feasible"]]
    ranked = sorted(feasible, key=lambda r: (-r["value"] if maximize else r["value"], r["number"]))
    title = f"Optimization of {objective.name} ({objective.direction})"
    sections = [
        f"<header><h1>{html.escape(title)}</h1></header>",
        stats_section(_facts(rows, feasible, ranked, dsr)),
        chart_section(
            "Optimization history",
            "opt-history",
            history_figure(rows, maximize),
            "Objective of each trial; grey: infeasible (constraints broken), orange: pruned.",
        ),
    ]
    importances = parameter_importances(study, objective, space)
    if importances:
        sections.append(
            chart_section(
                "Parameter importance",
                "opt-importance",
                importance_figure(importances),
                "PED-ANOVA on the feasible trials: how differently each parameter is "
                "distributed in the best 10 % of trials than in all of them (normalized).",
            )
        )
    if len(ranked) >= 2:
        sections.append(
            chart_section(
                "Parallel coordinates",
                "opt-parallel",
                parallel_figure(ranked, space.names, objective.name),
                "Feasible trials; drag along an axis to filter.",
            )
        )
    headers = ["Trial", "Objective", *space.names, "Trades", "Max DD %", "Return %"]
    table = [
        [
            r["number"],
            r["objective"],
            *(r.get(f"params_{n}") for n in space.names),
            r.get("n_trades"),
            r.get("max_drawdown_pct"),
            r.get("total_return_pct"),
        ]
        for r in ranked[:TOP_TRIALS]
    ]
    sections.append(table_section(f"Top {TOP_TRIALS} feasible trials", headers, table))
    if best is not None:
        sections += tearsheet_sections(report_data(best))
    write_page(path, title, sections)


def _facts(
    rows: Sequence[Mapping[str, Any]],
    feasible: Sequence[Mapping[str, Any]],
    ranked: Sequence[Mapping[str, Any]],
    dsr: DeflatedSharpe | None,
) -> list[tuple[str, str]]:
    states = [r["state"] for r in rows]
    facts = [
        ("Trials", str(len(rows))),
        ("Complete", str(states.count("complete"))),
        ("Feasible", str(len(feasible))),
        ("Pruned", str(states.count("pruned"))),
        ("Failed", str(states.count("fail"))),
    ]
    if ranked:
        best = ranked[0]
        facts.append(("Best trial", f"#{best['number']}: {fmt(best['objective'])}"))
        facts += [(name[7:], fmt(v)) for name, v in best.items() if name.startswith("params_")]
    if dsr is not None:
        facts.append(("Deflated Sharpe (best)", f"{dsr.probability:.3f}"))
    return facts


def parameter_importances(
    study: optuna.Study, objective: Objective, space: SearchSpace
) -> dict[str, float]:
    """PED-ANOVA importances over the feasible complete trials; empty when they are too few."""
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator
    from optuna.trial import TrialState

    trials = [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if is_feasible(t)
    ]
    varied = [n for n in space.names if len({repr(t.params.get(n)) for t in trials}) > 1]
    if len(trials) < 3 or not varied:
        return {}
    feasible_only = optuna.create_study(direction=objective.direction)
    feasible_only.add_trials(trials)
    try:
        found = optuna.importance.get_param_importances(
            feasible_only, evaluator=PedAnovaImportanceEvaluator(), params=varied
        )
    except (RuntimeError, ValueError):  # e.g. every trial has the same objective
        return {}
    return {k: float(v) for k, v in found.items()}
