"""``ttq sweep``: every combination of a parameter grid (or a random sample), one row each."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ttquant.cli.flags import choice
from ttquant.cli.optimize import params_table
from ttquant.cli.research_flags import ResearchFlags, assignments, research_command

if TYPE_CHECKING:
    from rich.console import Console


@research_command
def sweep(
    flags: ResearchFlags,
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder (results, report)")],
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            "-g",
            help="sweep NAME over LOW:HIGH:STEP (inclusive) or choices A,B,C; repeat; without "
            "it, every declared parameter range",
        ),
    ] = None,
    random: Annotated[
        int | None, typer.Option(help="evaluate N random combinations of the grid instead")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="vectorized, event, or auto (vectorized when the strategy can)")
    ] = "auto",
    chunk_size: Annotated[
        int | None, typer.Option(help="combinations per task (default 64 vectorized, 4 event)")
    ] = None,
) -> None:
    """Backtest every combination of a parameter grid; rank them by an objective.

    Writes OUT/results.parquet and .csv (one row per combination: parameters and statistics),
    OUT/best.toml (ttq backtest --config OUT/best.toml), OUT/summary.json and OUT/report.html.
    """
    from ttquant.cli.main import _stdout_console, _user_errors

    with _user_errors():
        from ttquant.research.sweep import SweepJob, run_sweep

        job = SweepJob(
            config=flags.backtest_config(),
            out=out,
            grid=assignments(grid, "--grid"),
            fixed=flags.fixed(),
            random=random,
            seed=flags.seed,
            engine=choice(engine, ("auto", "vectorized", "event"), "--engine"),
            objective=flags.objective,
            direction=flags.objective_direction(),
            constraints=flags.constraints(),
            execution=flags.execution(),
            chunk_size=chunk_size,
        )
        summary = run_sweep(job)
        if not flags.quiet:
            _print_summary(_stdout_console(), summary)


def _print_summary(console: Console, summary: Any) -> None:
    from rich.markup import escape

    from ttquant.analytics.statistics import format_statistic

    console.print(
        f"{summary.n_combinations} combinations ({summary.n_refused} refused, "
        f"{summary.n_feasible} feasible), {summary.engine} engine, {summary.executor}",
        highlight=False,
    )
    if summary.best_params is None:
        console.print("[yellow]no feasible combination[/]: see results.csv (reason column)")
    else:
        console.print(params_table("Best combination", summary.best_params))
        stats = summary.best_statistics or {}
        for key in ("sharpe", "total_return_pct", "max_drawdown_pct", "n_trades"):
            console.print(f"{key}: {format_statistic(key, stats.get(key))}", highlight=False)
    folder = escape(str(summary.out))
    console.print(f"results written to [bold]{folder}[/] (report: {folder}/report.html)")
