"""``ttq optimize``: Optuna search of a strategy's parameters."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ttquant.cli.flags import choice
from ttquant.cli.research_flags import (
    BatchOpt,
    ParamOpt,
    ResearchFlags,
    assignments,
    research_command,
)

if TYPE_CHECKING:
    from rich.console import Console


def params_table(title: str, params: dict[str, Any]) -> Table:
    table = Table(title=title, title_style="bold")
    table.add_column("Parameter")
    table.add_column("Value", justify="right")
    for name, value in params.items():
        table.add_row(escape(name), escape(repr(value)))
    return table


@research_command
def optimize(
    flags: ResearchFlags,
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder (study, trials, report)")],
    param: ParamOpt = None,
    sampler: Annotated[str, typer.Option(help="tpe, cmaes or random")] = "tpe",
    trials: Annotated[int, typer.Option(help="finished trials the study should have")] = 100,
    batch: BatchOpt = 4,
    folds: Annotated[
        int, typer.Option(help="time folds per trial; with 2 or more, poor trials are pruned")
    ] = 1,
    pruner: Annotated[str, typer.Option(help="median or none (needs --folds >= 2)")] = "median",
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (default: sqlite in --out)")
    ] = None,
    study_name: Annotated[str, typer.Option(help="study name in the storage")] = "ttq-optimize",
) -> None:
    """Search a strategy's parameters with Optuna (TPE or CMA-ES); resumable, reproducible.

    Writes OUT/trials.parquet and .csv, OUT/best.toml (ttq backtest --config OUT/best.toml),
    OUT/best/ (the best run's results) and OUT/report.html. Run it again to resume or extend
    the study.
    """
    from ttquant.cli.main import _stdout_console, _user_errors

    with _user_errors():
        from ttquant.research.optimize import StudySettings
        from ttquant.research.optimize_job import OptimizeJob, run_optimize

        settings = StudySettings(
            sampler=choice(sampler, ("tpe", "cmaes", "random"), "--sampler"),
            n_trials=trials,
            seed=flags.seed,
            batch=batch,
            folds=folds,
            pruner=choice(pruner, ("median", "none"), "--pruner"),
        )
        job = OptimizeJob(
            config=flags.backtest_config(),
            out=out,
            params=assignments(param, "--param"),
            fixed=flags.fixed(),
            objective=flags.objective,
            direction=flags.objective_direction(),
            constraints=flags.constraints(),
            settings=settings,
            storage=storage,
            study_name=study_name,
            execution=flags.execution(),
        )
        summary = run_optimize(job)
        if not flags.quiet:
            _print_summary(_stdout_console(), summary)


def _print_summary(console: Console, summary: Any) -> None:
    from ttquant.analytics.statistics import format_statistic

    console.print(
        f"{summary.n_trials} trials ({summary.n_feasible} feasible) on {summary.executor}",
        highlight=False,
    )
    if summary.best_params is None:
        console.print("[yellow]no feasible trial[/]: see trials.csv (reason column)")
    else:
        console.print(params_table(f"Best trial #{summary.best_number}", summary.best_params))
        stats = summary.best_statistics or {}
        for key in ("sharpe", "total_return_pct", "max_drawdown_pct", "n_trades"):
            console.print(f"{key}: {format_statistic(key, stats.get(key))}", highlight=False)
        if summary.deflated_sharpe is not None:
            console.print(
                f"deflated Sharpe ratio: {summary.deflated_sharpe.probability:.3f}",
                highlight=False,
            )
    folder = escape(str(summary.out))
    console.print(f"results written to [bold]{folder}[/] (report: {folder}/report.html)")
