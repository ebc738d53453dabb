"""``ttq sweep``: every combination of a parameter grid (or a random sample), one row each."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ttquant.cli.optimize import (
    CashOpt,
    ConfigOpt,
    DataOpt,
    FeeOpt,
    MaxDrawdownOpt,
    MinTradesOpt,
    ObjectiveOpt,
    QuietOpt,
    RayAddressOpt,
    RetriesOpt,
    SeedOpt,
    SetOpt,
    SlippageOpt,
    StrategyOpt,
    SymbolOpt,
    TimerangeOpt,
    WorkerMemoryOpt,
    WorkersOpt,
    assignments,
    constraints,
    direction,
    execution,
    params_table,
    research_config,
)

if TYPE_CHECKING:
    from rich.console import Console


def sweep(
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder (results, report)")],
    config: ConfigOpt = None,
    strategy: StrategyOpt = None,
    data: DataOpt = None,
    symbol: SymbolOpt = None,
    timerange: TimerangeOpt = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            "-g",
            help="sweep NAME over LOW:HIGH:STEP (inclusive) or choices A,B,C; repeat; without "
            "it, every declared parameter range",
        ),
    ] = None,
    set_: SetOpt = None,
    random: Annotated[
        int | None, typer.Option(help="evaluate N random combinations of the grid instead")
    ] = None,
    seed: SeedOpt = 0,
    engine: Annotated[
        str, typer.Option(help="vectorized, event, or auto (vectorized when the strategy can)")
    ] = "auto",
    objective: ObjectiveOpt = "sharpe",
    direction_: Annotated[
        str | None,
        typer.Option("--direction", help="maximize or minimize (user objectives only)"),
    ] = None,
    min_trades: MinTradesOpt = None,
    max_drawdown: MaxDrawdownOpt = None,
    chunk_size: Annotated[
        int | None, typer.Option(help="combinations per task (default 64 vectorized, 4 event)")
    ] = None,
    cash: CashOpt = None,
    fee_bps: FeeOpt = None,
    slippage_bps: SlippageOpt = None,
    ray_address: RayAddressOpt = None,
    workers: WorkersOpt = None,
    worker_memory: WorkerMemoryOpt = None,
    max_retries: RetriesOpt = 2,
    quiet: QuietOpt = False,
) -> None:
    """Backtest every combination of a parameter grid; rank them by an objective.

    Writes OUT/results.parquet and .csv (one row per combination: parameters and statistics),
    OUT/best.toml (ttq backtest --config OUT/best.toml), OUT/summary.json and OUT/report.html.
    """
    from ttquant.cli.main import _stdout_console, _user_errors

    with _user_errors():
        from ttquant.research.sweep import SweepJob, run_sweep

        job = SweepJob(
            config=research_config(
                config, strategy, data, symbol, timerange, cash, fee_bps, slippage_bps
            ),
            out=out,
            grid=assignments(grid, "--grid"),
            fixed=assignments(set_, "--set"),
            random=random,
            seed=seed,
            engine=_engine(engine),
            objective=objective,
            direction=direction(direction_),
            constraints=constraints(min_trades, max_drawdown),
            execution=execution(ray_address, workers, worker_memory, max_retries, quiet),
            chunk_size=chunk_size,
        )
        summary = run_sweep(job)
        if not quiet:
            _print_summary(_stdout_console(), summary)


def _engine(value: str) -> Any:
    from ttquant.core.errors import ConfigError

    if value not in ("auto", "vectorized", "event"):
        raise ConfigError(f"--engine must be auto, vectorized or event, got {value!r}")
    return value


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
