"""``ttq optimize``: Optuna search of a strategy's parameters (and options shared with
``ttq walkforward``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from rich.console import Console

    from ttquant.engine.config import BacktestConfig
    from ttquant.research.execution import ExecutionSettings
    from ttquant.research.objectives import Constraints, Direction

# -- options shared by the research commands ----------------------------------------------------

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML backtest config (venue, data, strategy, params)"),
]
StrategyOpt = Annotated[
    str | None,
    typer.Option("--strategy", "-s", help="strategy name or path/file.py:ClassName"),
]
DataOpt = Annotated[
    list[Path] | None,
    typer.Option("--data", "-d", help="OHLCV file (CSV, CSV.gz or Parquet); repeat for more"),
]
SymbolOpt = Annotated[
    list[str] | None,
    typer.Option("--symbol", help="symbol of each --data file, in order (default BTC/USDT)"),
]
TimerangeOpt = Annotated[
    str | None, typer.Option(help="YYYYMMDD-YYYYMMDD, either end may be omitted")
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="search NAME over LOW:HIGH, LOW:HIGH:STEP, LOW:HIGH:log or choices A,B,C; "
        "repeat; without it, every declared range is searched",
    ),
]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="fix strategy parameter NAME=VALUE; repeat")
]
ObjectiveOpt = Annotated[
    str,
    typer.Option(
        help="sharpe, sortino, calmar, total_return, max_drawdown, or module:function / "
        "file.py:function taking the statistics dict"
    ),
]
DirectionOpt = Annotated[
    str | None, typer.Option(help="maximize or minimize (user objectives; default maximize)")
]
MinTradesOpt = Annotated[int | None, typer.Option(help="a run with fewer trades is infeasible")]
MaxDrawdownOpt = Annotated[
    float | None, typer.Option(help="a run with a deeper drawdown (percent) is infeasible")
]
SeedOpt = Annotated[int, typer.Option(help="random seed: the same seed gives the same trials")]
BatchOpt = Annotated[
    int, typer.Option(help="trials proposed and evaluated together (the trials depend on it)")
]
CashOpt = Annotated[float | None, typer.Option(help="starting cash")]
FeeOpt = Annotated[float | None, typer.Option(help="fee per fill, basis points")]
SlippageOpt = Annotated[float | None, typer.Option(help="slippage on taker fills, bps")]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        help="run on this Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: here, or a "
        "local Ray instance for large jobs)"
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        help="1: run in this process; N > 1: a local Ray instance with N CPUs (default: here "
        "for small jobs, else a local Ray instance with every CPU)"
    ),
]
WorkerMemoryOpt = Annotated[
    int | None, typer.Option(help="memory each Ray task reserves, MB (bounds tasks per node)")
]
RetriesOpt = Annotated[int, typer.Option(help="retries of a failed task before it is reported")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar or summary")]


def research_config(
    config: Path | None,
    strategy: str | None,
    data: list[Path] | None,
    symbol: list[str] | None,
    timerange: str | None,
    cash: float | None,
    fee_bps: float | None,
    slippage_bps: float | None,
) -> BacktestConfig:
    """The backtest config a research command starts from: the file, changed by the flags."""
    from ttquant.cli.flags import config_from_flags
    from ttquant.core.errors import ConfigError

    cfg = config_from_flags(
        config,
        strategy=strategy,
        data=data,
        symbol=symbol,
        timerange=timerange,
        venue={"cash": cash, "fee_bps": fee_bps, "slippage_bps": slippage_bps},
    )
    if not cfg.strategies:
        raise ConfigError("no strategy: give --strategy NAME or a [[strategies]] table")
    return cfg


def constraints(min_trades: int | None, max_drawdown: float | None) -> Constraints:
    from ttquant.research.objectives import Constraints

    return Constraints(min_trades, max_drawdown)


def direction(text: str | None) -> Direction | None:
    from ttquant.core.errors import ConfigError

    if text is None:
        return None
    if text == "maximize":
        return "maximize"
    if text == "minimize":
        return "minimize"
    raise ConfigError(f"--direction must be maximize or minimize, got {text!r}")


def execution(
    ray_address: str | None,
    workers: int | None,
    worker_memory: int | None,
    max_retries: int,
    quiet: bool,
) -> ExecutionSettings:
    from ttquant.research.execution import ExecutionSettings

    return ExecutionSettings(ray_address, workers, worker_memory, max_retries, not quiet)


def assignments(pairs: list[str] | None, flag: str) -> dict[str, str]:
    from ttquant.research.space import parse_assignments

    return parse_assignments(pairs or [], flag)


def params_table(title: str, params: dict[str, Any]) -> Table:
    table = Table(title=title, title_style="bold")
    table.add_column("Parameter")
    table.add_column("Value", justify="right")
    for name, value in params.items():
        table.add_row(escape(name), escape(repr(value)))
    return table


# -- the command ----------------------------------------------------------------------------------


def optimize(
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder (study, trials, report)")],
    config: ConfigOpt = None,
    strategy: StrategyOpt = None,
    data: DataOpt = None,
    symbol: SymbolOpt = None,
    timerange: TimerangeOpt = None,
    param: ParamOpt = None,
    set_: SetOpt = None,
    objective: ObjectiveOpt = "sharpe",
    direction_: Annotated[
        str | None,
        typer.Option("--direction", help="maximize or minimize (user objectives only)"),
    ] = None,
    min_trades: MinTradesOpt = None,
    max_drawdown: MaxDrawdownOpt = None,
    sampler: Annotated[str, typer.Option(help="tpe, cmaes or random")] = "tpe",
    trials: Annotated[int, typer.Option(help="finished trials the study should have")] = 100,
    seed: SeedOpt = 0,
    batch: BatchOpt = 4,
    folds: Annotated[
        int, typer.Option(help="time folds per trial; with 2 or more, poor trials are pruned")
    ] = 1,
    pruner: Annotated[str, typer.Option(help="median or none (needs --folds >= 2)")] = "median",
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (default: sqlite in --out)")
    ] = None,
    study_name: Annotated[str, typer.Option(help="study name in the storage")] = "ttq-optimize",
    cash: CashOpt = None,
    fee_bps: FeeOpt = None,
    slippage_bps: SlippageOpt = None,
    ray_address: RayAddressOpt = None,
    workers: WorkersOpt = None,
    worker_memory: WorkerMemoryOpt = None,
    max_retries: RetriesOpt = 2,
    quiet: QuietOpt = False,
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
            sampler=_choice(sampler, ("tpe", "cmaes", "random"), "--sampler"),
            n_trials=trials,
            seed=seed,
            batch=batch,
            folds=folds,
            pruner=_choice(pruner, ("median", "none"), "--pruner"),
        )
        job = OptimizeJob(
            config=research_config(
                config, strategy, data, symbol, timerange, cash, fee_bps, slippage_bps
            ),
            out=out,
            params=assignments(param, "--param"),
            fixed=assignments(set_, "--set"),
            objective=objective,
            direction=direction(direction_),
            constraints=constraints(min_trades, max_drawdown),
            settings=settings,
            storage=storage,
            study_name=study_name,
            execution=execution(ray_address, workers, worker_memory, max_retries, quiet),
        )
        summary = run_optimize(job)
        if not quiet:
            _print_summary(_stdout_console(), summary)


def _choice(value: str, allowed: tuple[str, ...], flag: str) -> Any:
    from ttquant.core.errors import ConfigError

    if value not in allowed:
        raise ConfigError(f"{flag} must be one of {', '.join(allowed)}, got {value!r}")
    return value


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
